"""Runs a command in a pseudo-terminal, for tests of terminal programs.

Usage: pty_run.py COLUMNS ROWS COMMAND [ARG...]

Bytes on standard input are typed into the terminal (b"\\x03" is Ctrl-C,
b"\\x04" Ctrl-D, as a keyboard sends them); what the program writes to the
terminal comes out on standard output, byte for byte. The end of standard
input types nothing more (the terminal stays open). Exits with the
program's exit status, or 128 + the signal that killed it.

Debian's python3 standard library only (pty, termios), so that CI needs no
native Node addon to test in a real terminal.
"""
import errno
import fcntl
import os
import pty
import select
import struct
import sys
import termios


def main():
    columns, rows = int(sys.argv[1]), int(sys.argv[2])
    command = sys.argv[3:]
    pid, master = pty.fork()
    if pid == 0:
        # The child: its stdin/stdout/stderr are the terminal's slave side.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        os.environ["TERM"] = "xterm"
        os.execvp(command[0], command)
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    inputs = [master, stdin]
    while True:
        readable, _, _ = select.select(inputs, [], [])
        if stdin in readable:
            data = os.read(stdin, 65536)
            if data:
                os.write(master, data)
            else:
                inputs.remove(stdin)
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError as error:
                if error.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break  # The program closed the terminal (it exited).
            os.write(stdout, data)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
