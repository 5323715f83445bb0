"""A seed-style plain-text chat client on Python's `websockets`, driven by a test.

Usage: python3 python_plain_client.py ws://127.0.0.1:PORT/r/ROOM

It connects without a subprotocol and relays, one JSON object per line:
  stdout: {"event": "open", "subprotocol": null}
          {"event": "message", "data": "alice :: hi"}    (each text message received)
          {"event": "close", "code": 1000, "reason": "bye"}
          {"event": "error", "error": "..."}
  stdin:  {"send": "TEXT"}     send a text message
          {"close": true}      close the connection (1000)
"""

import asyncio
import json
import sys

import websockets


def emit(**fields):
    print(json.dumps(fields), flush=True)


async def commands(ws):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        command = json.loads(line)
        if "send" in command:
            await ws.send(command["send"])
        elif command.get("close"):
            await ws.close(1000, "done")
            return


async def main(url):
    try:
        async with websockets.connect(url, open_timeout=10) as ws:
            emit(event="open", subprotocol=ws.subprotocol)
            driver = asyncio.ensure_future(commands(ws))
            try:
                async for message in ws:
                    emit(event="message", data=message if isinstance(message, str) else None)
            except websockets.ConnectionClosed:
                pass
            driver.cancel()
            emit(event="close", code=ws.close_code, reason=ws.close_reason)
    except Exception as error:  # the test shows what went wrong
        emit(event="error", error=repr(error))
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
