# -*- coding: utf-8 -*-
"""A weather service that trickles its header section forever: the status
line, then header bytes a few at a time, never the empty line that ends
the head.  No read timeout would ever fire on such a connection (bytes keep
coming); --weather-timeout must still bound the call, the server must cut
the connection, and no thread may be left behind (field notes B-4)."""

import threading
import time
import unittest

from tests.support import (TIMEOUT, _RawUpstream, _RawUpstreamTestCase,
                           _fd_count, wait_for)


class TricklingUpstream(_RawUpstream):
    """ A raw-socket Open-Meteo whose every answer trickles: ``mode``
      slow-line    "HTTP/1.1 200 OK", then one header line, one byte every
                   20 ms, that never ends
      slow-lines   complete header lines, one every 20 ms, never the end
      flood        header lines as fast as the socket takes them
    ``open`` counts the connections the server under test still holds. """

    name = "trickling-upstream"

    def __init__(self):
        self.mode = "slow-line"
        self.open = 0
        self.lock = threading.Lock()
        _RawUpstream.__init__(self)

    def serve(self, conn):
        with self.lock:
            self.open += 1
        try:
            conn.settimeout(TIMEOUT)
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            if self.mode == "slow-line":
                conn.sendall(b"X-Trickle: ")
            n = 0
            while not self.stopping.is_set():
                n += 1
                if self.mode == "slow-line":
                    conn.sendall(b"a")
                else:
                    conn.sendall(b"X-Line-%d: more\r\n" % n)
                if self.mode != "flood" and self.stopping.wait(0.02):
                    break
        except OSError:
            pass                # the server under test cut it: good
        finally:
            conn.close()
            with self.lock:
                self.open -= 1


class TricklingUpstreamTests(_RawUpstreamTestCase):
    """ Bounded by --weather-timeout, connection cut, threads given back. """

    settings = {"weather_timeout": 0.5}

    @classmethod
    def setUpClass(cls):
        cls.trickling = cls.beside(TricklingUpstream())

    def test_trickled_head_is_cut_at_the_timeout(self):
        sid = self.initialize()
        threads, fds = threading.active_count(), _fd_count()
        for mode, words in (("slow-line", "did not answer within 0.5 s"),
                            ("slow-lines", "did not answer within 0.5 s"),
                            ("flood", "broken answer|did not answer")):
            with self.subTest(mode=mode):
                self.trickling.mode = mode
                started = time.monotonic()
                reply = self.call_tool("get_weather", {"city": "Hangzhou"},
                                       sid)
                elapsed = time.monotonic() - started
                result = self.result_of(reply, 7)["result"]
                self.assertIs(result.get("isError"), True, reply.body)
                self.assertRegex(result["content"][0]["text"], words)
                # The timeout, and room for a busy machine.
                self.assertLess(elapsed, 0.5 + 3.0, mode)
                wait_for(lambda: self.trickling.open == 0,
                         message="the server still holds the trickling "
                                 "connection (%s)" % mode)
        wait_for(lambda: threading.active_count() <= threads,
                 message="threads left behind: %d, before %d" % (
                     threading.active_count(), threads))
        if fds is not None:
            wait_for(lambda: _fd_count() <= fds,
                     message="descriptors left open")

    def test_watched_resource_reads_are_bounded_too(self):
        """ ResourceWatch re-reads through the same client: a trickling
        service delays no one, and the read gives up at the timeout. """
        self.trickling.mode = "slow-line"
        reply = self.rpc("resources/read",
                         {"uri": "weather://Hangzhou/current"},
                         self.initialize())
        self.assertEqual(self.result_of(reply)["error"]["code"], -32603)
        self.assertIn("did not answer within 0.5 s",
                      self.result_of(reply)["error"]["message"])
        wait_for(lambda: self.trickling.open == 0)


if __name__ == "__main__":
    unittest.main()
