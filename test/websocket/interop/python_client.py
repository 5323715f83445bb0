"""Python `websockets` as a client of our server, for test/websocket/interop/python.test.ts.

Run with Debian's interpreter, which sees Debian's python3-websockets:

    /usr/bin/python3 python_client.py ws://127.0.0.1:PORT SCENARIO

Each scenario connects to URL + "/" + SCENARIO, exercises the server, and
prints one JSON object on stdout that the test asserts. Written for the
asyncio client of websockets 10.x (the sync client came in 12.0); it only
uses API that 10.0 and later have. Every wait is bounded, so a stuck server
makes this script fail instead of hanging the test.
"""

import asyncio
import json
import os
import sys

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

STEP = 20  # seconds allowed for any single step
MAX_SIZE = 32 * 1024 * 1024


def words(length, seed):
    """Deterministic compressible text (the same generator shape as the ws tests)."""
    vocabulary = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]
    state = seed or 1
    out = []
    size = 0
    while size < length:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        word = vocabulary[state % len(vocabulary)] + " "
        out.append(word)
        size += len(word)
    return "".join(out)[:length]


async def step(awaitable):
    return await asyncio.wait_for(awaitable, STEP)


async def echo(ws, message):
    """Send `message` (or fragments, for a list) and compare the echo: type and content."""
    await step(ws.send(message))
    expected = message[0][:0].join(message) if isinstance(message, list) else message
    reply = await step(ws.recv())
    return {
        "type": "text" if isinstance(reply, str) else "binary",
        "same": type(reply) is type(expected) and reply == expected,
        "length": len(reply),
    }


def connection_info(ws):
    return {
        "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
        "subprotocol": ws.subprotocol,
    }


async def close_and_report(ws, code, reason):
    await step(ws.close(code, reason))
    return {"code": ws.close_code, "reason": ws.close_reason}


async def scenario_messages(url):
    # compression="deflate" is the default: websockets offers permessage-deflate.
    async with websockets.connect(url, max_size=MAX_SIZE, open_timeout=STEP, close_timeout=STEP) as ws:
        result = connection_info(ws)
        big_binary = os.urandom(1024 * 1024)
        big_text = words(1024 * 1024, 42)
        cases = {
            "text": "hello",
            "multibyte": "héllo wörld — 你好 🎉 𝄞",
            "empty text": "",
            "binary": bytes(range(256)),
            "empty binary": b"",
            # An iterable is sent as a fragmented message, one frame per item (RFC 6455 §5.4).
            "fragmented text": ["Hel", "lo, ", "wörld ", "🎉"],
            "fragmented binary": [b"\x00" * 10, os.urandom(70000), b"\xff"],
            "1 MiB binary": big_binary,
            "1 MiB text": big_text,
        }
        result["echoes"] = {name: await echo(ws, message) for name, message in cases.items()}
        # websockets matches the pong to the ping by its payload.
        pong_waiter = await step(ws.ping(b"python ping"))
        await step(pong_waiter)
        result["pong"] = True
        result["close"] = await close_and_report(ws, 4000, "python done")
        return result


async def scenario_uncompressed(url):
    async with websockets.connect(url, compression=None, open_timeout=STEP, close_timeout=STEP) as ws:
        result = connection_info(ws)
        result["echoes"] = {"text": await echo(ws, "plain " * 500), "binary": await echo(ws, os.urandom(5000))}
        result["close"] = await close_and_report(ws, 1000, "")
        return result


async def scenario_subprotocol(url):
    async with websockets.connect(url, subprotocols=["chat.v1", "chat.v2"], open_timeout=STEP, close_timeout=STEP) as ws:
        result = connection_info(ws)
        result["close"] = await close_and_report(ws, 1001, "going away")
        return result


async def scenario_server_close(url):
    async with websockets.connect(url, open_timeout=STEP, close_timeout=STEP) as ws:
        result = connection_info(ws)
        await step(ws.send("close-me"))
        try:
            await step(ws.recv())
            result["error"] = "a message arrived instead of the close"
        except ConnectionClosed as closed:
            # websockets calls only 1000/1001 "OK"; what matters is that close frames went both ways.
            result["exception"] = type(closed).__name__
            result["received"] = {"code": closed.rcvd.code, "reason": closed.rcvd.reason} if closed.rcvd else None
            result["sent"] = {"code": closed.sent.code, "reason": closed.sent.reason} if closed.sent else None
            result["receivedFirst"] = closed.rcvd_then_sent
        await step(ws.wait_closed())
        result["close"] = {"code": ws.close_code, "reason": ws.close_reason}
        return result


async def scenario_server_ping(url):
    async with websockets.connect(url, open_timeout=STEP, close_timeout=STEP) as ws:
        # The server pings; websockets answers with a pong by itself, and the
        # server reports the pong's payload back as a text message.
        await step(ws.send("ping-me"))
        result = {"reply": await step(ws.recv())}
        result["close"] = await close_and_report(ws, 1000, "")
        return result


async def scenario_too_big(url):
    async with websockets.connect(url, compression=None, open_timeout=STEP, close_timeout=STEP) as ws:
        result = {}
        try:
            await step(ws.send(b"\x00" * (16 * 1024 * 1024 + 1)))
            await step(ws.recv())
            result["error"] = "no close"
        except ConnectionClosed as closed:
            result["exception"] = type(closed).__name__
            result["close"] = {"code": closed.rcvd.code if closed.rcvd else None, "reason": closed.rcvd.reason if closed.rcvd else None}
        except OSError as error:  # the server closed TCP while we were still writing
            result["exception"] = type(error).__name__
            result["close"] = {"code": ws.close_code, "reason": ws.close_reason}
        return result


async def scenario_deflate_params(url):
    """Every window size with and without context takeover, negotiated by websockets' own factory."""
    results = []
    for no_takeover in (False, True):
        for bits in range(9, 16):
            factory = ClientPerMessageDeflateFactory(
                server_no_context_takeover=no_takeover,
                client_no_context_takeover=no_takeover,
                server_max_window_bits=bits,
                client_max_window_bits=bits,
            )
            async with websockets.connect(
                url, extensions=[factory], max_size=MAX_SIZE, open_timeout=STEP, close_timeout=STEP
            ) as ws:
                entry = {"bits": bits, "noTakeover": no_takeover, **connection_info(ws)}
                messages = []
                for i, size in enumerate([1, 700, 40000, 5, 90000, 33000]):
                    text = words(size, bits * 100 + i)
                    messages += [text, text, text.upper().encode(), os.urandom(size % 2000)]
                echoes = [await echo(ws, message) for message in messages]
                entry["allSame"] = all(e["same"] for e in echoes)
                entry["count"] = len(echoes)
                entry["close"] = await close_and_report(ws, 1000, "")
                results.append(entry)
    return {"runs": results}


SCENARIOS = {
    "messages": scenario_messages,
    "uncompressed": scenario_uncompressed,
    "subprotocol": scenario_subprotocol,
    "server-close": scenario_server_close,
    "server-ping": scenario_server_ping,
    "too-big": scenario_too_big,
    "deflate-params": scenario_deflate_params,
}


def main():
    base, name = sys.argv[1], sys.argv[2]
    result = asyncio.run(SCENARIOS[name](f"{base.rstrip('/')}/{name}"))
    result["websockets"] = websockets.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
