#!/usr/bin/env python3
"""llm.py: a chat-completions client for any OpenAI-compatible endpoint.

DeepSeek, OpenAI, Ollama, vLLM, LM Studio and most gateways speak the same
wire format: ``POST {base_url}/chat/completions`` with a JSON body of
``model``, ``messages`` and ``tools``.  The answer is either one JSON
object, or (with ``"stream": true``) server-sent events, one ``data:``
line per delta, ending with ``data: [DONE]``.  This module speaks that
format with ``urllib`` and nothing else::

    client = ChatClient("https://api.deepseek.com", "deepseek-chat", key)
    reply = client.chat([{"role": "user", "content": "Hi"}])
    print(reply.content)

What a demanding user expects, and where it lives:

    retries       429, 5xx and connection errors are retried with
                  exponential backoff, honouring Retry-After  (send)
    clear errors  400, 401, 403 and 404 become one line that shows the
                  API's own message                          (LLMError)
    streaming     text deltas are handed to ``on_text`` as they arrive;
                  tool-call fragments are joined by index    (read_stream)

Only the standard library is imported, so the file runs on any CPython 3.6+.
"""

import email.utils
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["ChatClient", "Reply", "LLMError"]


# ==========================================================================
# Errors
# ==========================================================================

class LLMError(Exception):
    """ The model could not answer.  ``str(error)`` is one line for a
    person; ``status`` is the HTTP status (None for a network failure). """

    def __init__(self, message, status=None):
        Exception.__init__(self, message)
        self.status = status


def api_message(body):
    """ The API's own explanation from an error body, or a short excerpt.

    OpenAI-compatible APIs answer ``{"error": {"message": ...}}``; some
    gateways send ``{"error": "text"}``, ``{"message": ...}`` or HTML.
    """
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200] or "(empty body)"
    return error_text(data)


def error_text(data):
    """ The message of an already parsed error body, on one line. """
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or error
    if not isinstance(error, str):
        error = json.dumps(error)
    return " ".join(error.split())[:300]


# ==========================================================================
# Replies
# ==========================================================================

class Reply(object):
    """ One answer of the model: ``content`` (text or None),
    ``tool_calls`` (OpenAI's list of ``{"id", "type", "function":
    {"name", "arguments"}}``), ``finish_reason`` and ``usage``. """

    def __init__(self, content=None, tool_calls=(), finish_reason=None,
                 usage=None):
        self.content = content
        self.tool_calls = list(tool_calls)
        self.finish_reason = finish_reason
        self.usage = usage

    def message(self):
        """ The assistant message to append to the conversation.  It must
        carry the tool calls, or the API rejects the tool results that
        follow it. """
        message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message

    @classmethod
    def from_json(cls, data):
        """ A Reply from a non-streaming ``chat.completion`` object. """
        choice = first_choice(data)
        message = choice.get("message") or {}
        return cls(message.get("content"), message.get("tool_calls") or (),
                   choice.get("finish_reason"), data.get("usage"))


def first_choice(data):
    """ ``choices[0]`` of a completion or chunk; an error object inside a
    200 answer (some gateways do that) becomes an LLMError. """
    if not isinstance(data, dict):
        raise LLMError("the model answered something that is not a JSON "
                       "object")
    if data.get("error"):
        raise LLMError("the model answered an error: %s" % error_text(data))
    choices = data.get("choices") or [{}]
    return choices[0] if isinstance(choices[0], dict) else {}


class StreamAssembler(object):
    """ Joins the deltas of a streamed answer into one Reply.

    Text arrives in ``delta.content`` pieces.  A tool call arrives in
    fragments that share an ``index``: the first names the call (``id``,
    ``function.name``), the rest append to ``function.arguments``.  Several
    calls may be interleaved, so fragments are joined by index, never by
    arrival order.
    """

    def __init__(self, on_text=None):
        self.on_text = on_text
        self.text = []
        self.calls = {}
        self.finish_reason = None
        self.usage = None

    def add(self, chunk):
        choice = first_choice(chunk)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        delta = choice.get("delta") or {}
        if delta.get("content"):
            self.text.append(delta["content"])
            if self.on_text:
                self.on_text(delta["content"])
        for fragment in delta.get("tool_calls") or ():
            self.add_call_fragment(fragment)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def add_call_fragment(self, fragment):
        index = fragment.get("index", len(self.calls))
        call = self.calls.setdefault(index, {
            "id": "", "type": "function",
            "function": {"name": "", "arguments": ""}})
        if fragment.get("id"):
            call["id"] = fragment["id"]
        function = fragment.get("function") or {}
        # Most APIs send the whole name once; a few stream it in pieces.
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""

    def reply(self):
        calls = [self.calls[index] for index in sorted(self.calls)]
        for number, call in enumerate(calls):
            call["id"] = call["id"] or "call_%d" % number
        content = "".join(self.text) if self.text else None
        return Reply(content, calls, self.finish_reason, self.usage)


def sse_data(lines):
    """ The ``data:`` payloads of an SSE body, one per event, until
    ``[DONE]``.  Comments (``:``) and other fields are skipped. """
    data = []
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                payload = "\n".join(data)
                data = []
                if payload.strip() == "[DONE]":
                    return
                yield payload
        elif line.startswith("data:"):
            data.append(line[5:][1:] if line[5:6] == " " else line[5:])
    if data and "\n".join(data).strip() != "[DONE]":
        yield "\n".join(data)


# ==========================================================================
# The client
# ==========================================================================

class ChatClient(object):
    """ A chat-completions client for one OpenAI-compatible endpoint.

    Knobs are attributes with defaults, overridable as keywords:
    ``timeout`` (seconds without a byte from the API), ``retries`` and
    ``backoff`` (first wait, doubled each time, capped at ``max_backoff``),
    ``temperature`` and ``trace`` (a callable given each exchange as text,
    for teaching; the key is never shown).
    """

    timeout = 120.0
    retries = 3
    backoff = 1.0
    max_backoff = 30.0
    temperature = None
    trace = None                # callable(text): every exchange
    on_notice = None            # callable(text): retries and the like
    user_agent = "mcp-weather-llm/1.0"

    RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504)

    def __init__(self, base_url, model, api_key="", key_hint="", **knobs):
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.key_hint = key_hint    # e.g. "set DEEPSEEK_API_KEY"
        for name, value in knobs.items():
            if not hasattr(ChatClient, name):
                raise TypeError("unknown ChatClient setting %r" % name)
            setattr(self, name, value)
        self.sleep = time.sleep     # tests replace it

    # -- the one public call ------------------------------------------------

    def chat(self, messages, tools=None, stream=False, on_text=None,
             options=None):
        """ Send the conversation; return the model's Reply.

        With ``stream`` true, text reaches ``on_text`` piece by piece as
        the model writes it.  A retry never repeats text already shown:
        once a streamed answer has started, a broken connection is an
        error, not a retry.  ``options`` adds request fields such as
        ``max_tokens``, ``temperature`` or ``stop`` (MCP sampling asks for
        them).
        """
        body = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body.update(options or {})
        if stream:
            body["stream"] = True
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        response = self.send(data)
        try:
            if stream and is_event_stream(response):
                return self.read_stream(response, on_text)
            reply = Reply.from_json(self.read_json(response))
            if stream and on_text and reply.content:
                on_text(reply.content)  # the API ignored "stream"
            return reply
        finally:
            response.close()

    # -- sending, with retries ---------------------------------------------

    def send(self, data):
        """ POST the body; return the open 2xx response.  Retries what may
        succeed later (429, 5xx, network), fails at once on the rest. """
        attempt = 0
        while True:
            try:
                return self.post(data)
            except LLMError as error:
                if not getattr(error, "retryable", False) or \
                        attempt >= self.retries:
                    raise
                failure = error
            attempt += 1
            wait = getattr(failure, "retry_after", None)
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1)
            wait = min(max(wait, 0.0), self.max_backoff)
            self.notice("retrying in %.1f s (attempt %d of %d): %s"
                        % (wait, attempt, self.retries, failure))
            self.sleep(wait)

    def post(self, data):
        request = urllib.request.Request(self.url, data=data, headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "User-Agent": self.user_agent})
        if self.api_key:
            request.add_header("Authorization", "Bearer " + self.api_key)
        self.show("> POST %s (%d bytes)\n%s"
                  % (self.url, len(data), data.decode("utf-8")))
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            raise self.http_error(error)
        except (urllib.error.URLError, OSError) as error:
            raise self.network_error(error)
        self.show("< %d %s" % (response.status,
                               response.headers.get("Content-Type", "")))
        return response

    def http_error(self, error):
        """ One line for a person, from an HTTP error answer. """
        try:
            body = error.read()
        except (OSError, ValueError):
            body = b""
        finally:
            error.close()
        status = error.code
        self.show("< %d\n%s" % (status, body.decode("utf-8", "replace")))
        message = api_message(body)
        where = "%s (model %s)" % (self.base_url, self.model)
        if status == 401:
            text = "the API key was refused by %s: %s" % (where, message)
            if self.key_hint:
                text += " (%s)" % self.key_hint
        elif status == 403:
            text = "access denied by %s: %s" % (where, message)
        elif status == 404:
            text = "not found at %s: %s (check base_url and model)" \
                % (self.url, message)
        elif status == 400:
            text = "the request was refused by %s: %s" % (where, message)
        else:
            text = "HTTP %d from %s: %s" % (status, where, message)
        failure = LLMError(text, status)
        failure.retryable = status in self.RETRY_STATUSES
        failure.retry_after = retry_after(error.headers.get("Retry-After"))
        return failure

    def network_error(self, error):
        reason = getattr(error, "reason", error)
        if isinstance(reason, socket.timeout):
            reason = "no answer within %g s" % self.timeout
        failure = LLMError("cannot reach the model at %s: %s"
                           % (self.base_url, reason))
        failure.retryable = True
        return failure

    # -- reading -----------------------------------------------------------

    def read_json(self, response):
        try:
            body = response.read()
        except (OSError, ValueError) as error:
            raise LLMError("the connection to %s broke while reading the "
                           "answer: %s" % (self.base_url, error))
        self.show(body.decode("utf-8", "replace"))
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError:
            raise LLMError("the model's answer is not JSON: %s"
                           % api_message(body))

    def read_stream(self, response, on_text=None):
        """ Assemble a streamed answer (``data:`` chunks, then [DONE]). """
        assembler = StreamAssembler(on_text)
        try:
            for payload in sse_data(response):
                self.show("data: " + payload)
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise LLMError("the model streamed a chunk that is not "
                                   "JSON: %s" % payload[:200])
                assembler.add(chunk)
        except (OSError, ValueError) as error:
            raise LLMError("the stream from %s broke: %s"
                           % (self.base_url, error))
        return assembler.reply()

    def show(self, text):
        if self.trace:
            self.trace("[llm] " + text)

    def notice(self, text):
        """ Retries are worth a line even without tracing: a person
        waiting on a slow answer should know why. """
        (self.trace or self.on_notice or (lambda text: None))(
            "[llm] " + text)


def is_event_stream(response):
    content_type = response.headers.get("Content-Type", "")
    return content_type.split(";")[0].strip().lower() == "text/event-stream"


def retry_after(value):
    """ Seconds from a Retry-After header: a number or an HTTP date. """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
