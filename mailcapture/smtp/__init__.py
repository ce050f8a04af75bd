"""The SMTP server: aiosmtpd with a chunked DATA reader.

Call :func:`start_smtp` with an :class:`SMTPConfig` and a :data:`Deliver` coroutine function; every
accepted message arrives there as an :class:`Envelope`. The client gets ``250`` only after
``deliver`` returned, ``451 4.3.0`` if it raised (anything; logged), and nothing counts as stored.

Behaviour worth knowing:

* EHLO advertises ``SIZE <max_message_size>``, ``8BITMIME``, ``SMTPUTF8``, ``PIPELINING``, plus
  ``AUTH PLAIN LOGIN`` when auth is on and ``STARTTLS`` when a certificate and key are set.
* Size limit: ``MAIL ... SIZE=`` over the limit gets ``552`` at once; a body larger than the limit
  (whatever SIZE said) is read to its end without being kept and gets ``552``. The limit counts the
  body as sent (dot-stuffed, without the final ``.CRLF``).
* More than ``max_recipients`` RCPT: ``452`` for each extra one.
* AUTH PLAIN/LOGIN works without TLS on purpose (a local development tool with test
  credentials); ``auth="any"`` accepts anything, ``"file"`` checks ``user:password`` lines.
  ``auth_require`` refuses MAIL/RCPT/DATA before AUTH with ``530``.
* Lines are not length-limited and 8-bit bytes pass untouched; ``Envelope.data`` is the message
  exactly as sent, after dot-unstuffing (see :mod:`mailcapture.smtp.dataread`).
* ``start_smtp(..., sink_factory)``: each body streams, unstuffed, into a :class:`BodySink` while
  it arrives (the service feeds the store, which compresses finished blocks before the end of DATA);
  the envelope carries the sink to ``deliver``.
* A delivery in progress is finished even if the client hangs up; :meth:`SMTPServer.close`
  waits for deliveries in progress.
* aiosmtpd's own logger (``mail.log``) logs every command at INFO; it is set to WARNING unless it
  has a level already or this package logs at DEBUG.
"""

from mailcapture.smtp.dataread import BodySink, BufferSink
from mailcapture.smtp.server import SMTPServer, start_smtp
from mailcapture.smtp.types import Deliver, DeliveryError, Envelope, SinkFactory, SMTPConfig

__all__ = ["BodySink", "BufferSink", "Deliver", "DeliveryError", "Envelope", "SMTPConfig", "SMTPServer",
           "SinkFactory", "start_smtp"]
