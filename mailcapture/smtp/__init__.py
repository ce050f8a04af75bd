"""The SMTP server: aiosmtpd with a chunked DATA reader.

Call :func:`start_smtp` with an :class:`SMTPConfig` and a :data:`Deliver` coroutine function; every
accepted message arrives there as an :class:`Envelope`. The client gets ``250`` only after
``deliver`` returned, ``451`` if it raised.
"""

from mailcapture.smtp.server import SMTPServer, start_smtp
from mailcapture.smtp.types import Deliver, DeliveryError, Envelope, SMTPConfig

__all__ = ["Deliver", "DeliveryError", "Envelope", "SMTPConfig", "SMTPServer", "start_smtp"]
