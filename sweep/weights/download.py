"""The Keras download of the weights, tried only when the host answers a TLS handshake."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

from sweep.paths import keras_home
from sweep.weights.files import KERAS_FNAME

KERAS_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + KERAS_FNAME
)
KERAS_MD5 = "6d6bbae143d832006294945121d1f1fc"
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
REACHABILITY_TIMEOUT_S = 2.0
DOWNLOAD_SOCKET_TIMEOUT_S = 30.0


def reachable(host_port: tuple[str, int] | None = None,
               timeout: float = REACHABILITY_TIMEOUT_S) -> bool:
    """Whether a download from `host_port` can start: decided within `timeout` seconds.

    A bare TCP connect is not enough evidence: some sandboxes accept every
    connection and then fail TLS, so this completes a verified TLS handshake with
    the host (name lookup included, all in a daemon thread). When an https proxy
    is configured (urllib honours it for the download) a TCP connect to the proxy
    is the test instead.
    """
    host, port = host_port or DOWNLOAD_HOST
    proxy = None
    if host_port is None:
        import urllib.parse
        import urllib.request

        proxy_url = urllib.request.getproxies().get("https")
        if proxy_url and not urllib.request.proxy_bypass(host):
            parsed = urllib.parse.urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
            if parsed.hostname:
                proxy = (parsed.hostname, parsed.port or 80)
    result: list[bool] = []

    def attempt():
        try:
            if proxy is not None:
                socket.create_connection(proxy, timeout=timeout).close()
            else:
                import ssl

                with socket.create_connection((host, port), timeout=timeout) as raw:
                    context = ssl.create_default_context()
                    with context.wrap_socket(raw, server_hostname=host):
                        pass
            result.append(True)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True, name="sweep-reachability")
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def fetch() -> Path:
    from keras.utils import get_file

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT_S)  # urlretrieve has no timeout of its own
    try:
        return Path(get_file(KERAS_FNAME, KERAS_ORIGIN, cache_subdir="models",
                             file_hash=KERAS_MD5, hash_algorithm="md5",
                             cache_dir=str(keras_home())))
    finally:
        socket.setdefaulttimeout(previous)
