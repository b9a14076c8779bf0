"""Every location codecorpus opens: local folders, file:// and s3:// URIs.

`filesystem_for(uri)` is the one place a location becomes a pyarrow file system,
so the S3 settings (`Settings.s3_*`; credentials from the standard AWS chain)
apply alike to sources, the Iceberg warehouse, run folders, tokenizers and
shards, on the driver and in Ray workers, which read the same environment.

Object stores have no rename, but a PUT is atomic: an object appears whole or
not at all. Writers there put the final name directly; a step of several files
is trusted only once its marker, written last, exists (`corpus.core.exchange`). Local
writes go to a temporary name and are renamed into place.
"""

import functools
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from corpus.core.errors import CodecorpusError
from corpus.core.settings import Settings

#: Environment variables through which the AWS SDK finds credentials.
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_SHARED_CREDENTIALS_FILE",
)  # fmt: skip
COPY_CHUNK = 8 << 20


class StorageError(CodecorpusError):
    """A location cannot be reached or used (missing bucket, denied access, no server)."""


class StorageChecksumError(StorageError):
    """A downloaded file's sha256 differs from the expected one."""


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def filesystem_for(uri: str, settings: Settings | None = None) -> tuple[pafs.FileSystem, str]:
    """The file system and path of a local path or URI.

    s3:// URIs use the S3 settings, unless the URI carries its own options
    (`s3://key:secret@bucket/path?endpoint_override=...`), which then win.
    """
    if "://" not in uri:
        return pafs.LocalFileSystem(), str(Path(uri).absolute())
    parts = urlsplit(uri)
    if parts.scheme == "s3" and not parts.query and "@" not in parts.netloc:
        options = s3_options(settings or Settings())
        if options:  # without them, pyarrow's from_uri resolves the bucket's region itself
            path = f"{parts.netloc}{parts.path}".rstrip("/")
            return _s3_filesystem(tuple(sorted(options.items())), _credentials_key()), path
    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, ValueError, OSError) as exc:
        raise StorageError(f"cannot open {redact(uri)}: {explain(exc, settings)}") from exc


def s3_options(settings: Settings) -> dict[str, object]:
    """pyarrow S3FileSystem options from the settings (credentials: the AWS chain)."""
    options: dict[str, object] = {}
    if settings.s3_endpoint:
        options["endpoint_override"] = settings.s3_endpoint
    region = settings.s3_region or ("us-east-1" if settings.s3_endpoint else None)
    if region:
        options["region"] = region
    if settings.s3_virtual_addressing:
        options["force_virtual_addressing"] = True
    return options


def iceberg_properties(settings: Settings) -> dict[str, str]:
    """The same S3 settings as pyiceberg FileIO properties (catalog-wide)."""
    options = s3_options(settings)
    properties = {"py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO"}
    if "endpoint_override" in options:
        properties["s3.endpoint"] = str(options["endpoint_override"])
    if "region" in options:
        properties["s3.region"] = str(options["region"])
    if settings.s3_virtual_addressing:
        properties["s3.force-virtual-addressing"] = "true"
    return properties


@functools.lru_cache(maxsize=8)
def _s3_filesystem(options: tuple[tuple[str, object], ...], _credentials: tuple) -> pafs.FileSystem:
    # Keyed by the credential variables too: the SDK reads them when the client is built.
    # Delayed open: a small object is one PUT instead of a three-request multipart upload.
    return pafs.S3FileSystem(**dict(options), allow_delayed_open=True)


def _credentials_key() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in CREDENTIAL_VARIABLES)


def check_bucket(uri: str, role: str, settings: Settings | None = None) -> None:
    """Fail early, with what to do, when an object-store location's bucket is unusable."""
    if is_local(uri):
        return
    fs, path = filesystem_for(uri, settings)
    bucket = path.split("/", 1)[0]
    try:
        info = fs.get_file_info(bucket)
    except OSError as exc:
        raise StorageError(
            f"cannot use the {role} {redact(uri)}: {explain(exc, settings)}"
        ) from exc
    if info.type == pafs.FileType.NotFound:
        where = (settings or Settings()).s3_endpoint or "Amazon S3"
        raise StorageError(
            f"the {role} {redact(uri)} is in bucket {bucket!r}, which does not exist at {where}: "
            f"create the bucket or fix the location"
        )


def explain(exc: BaseException, settings: Settings | None = None) -> str:
    """An S3 error in a sentence that says what to check."""
    text = str(exc)
    endpoint = (settings or Settings()).s3_endpoint
    hints = []
    if any(code in text for code in ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE")):
        hints.append("access was denied: check the AWS credentials and the bucket's policy")
    elif "NO_SUCH_BUCKET" in text:
        hints.append("the bucket does not exist: create it or fix the location")
    elif "NETWORK_CONNECTION" in text or "Could not resolve" in text:
        hints.append(
            f"cannot reach the S3 endpoint {endpoint or '(Amazon S3)'}: is it up, and is "
            "CODECORPUS_S3_ENDPOINT right?"
        )
    if "AWS Error" in text and not has_static_credentials():
        hints.append(
            "no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE, or give the machine a role)"
        )
    return "; ".join([text.strip(), *hints])


def has_static_credentials() -> bool:
    """Credentials the AWS chain finds without asking a metadata service."""
    if any(os.environ.get(name) for name in CREDENTIAL_VARIABLES):
        return True
    return (Path.home() / ".aws" / "credentials").is_file()


def redact(uri: str) -> str:
    """A URI without the secret a user may have put in it (`s3://key:secret@bucket`)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def is_object_store(fs: pafs.FileSystem) -> bool:
    return not isinstance(fs, pafs.LocalFileSystem)


def ensure_parent(fs: pafs.FileSystem, path: str) -> None:
    """Create the parent folder of `path` on local disks; object stores have no folders."""
    if not is_object_store(fs):
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)


@contextmanager
def open_output(uri: str, settings: Settings | None = None) -> Iterator[pa.NativeFile]:
    """A stream to `uri` that readers see whole or not at all (see the module docstring)."""
    fs, path = filesystem_for(uri, settings)
    if is_object_store(fs):
        try:
            with fs.open_output_stream(path) as stream:
                yield stream
        except BaseException:
            with suppress(OSError):  # closing completed the upload: take it back
                fs.delete_file(path)
            raise
        return
    ensure_parent(fs, path)
    temp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with fs.open_output_stream(temp) as stream:
            yield stream
        fs.move(temp, path)
    except BaseException:
        with suppress(OSError):
            fs.delete_file(temp)
        raise


def write_bytes(uri: str, data: bytes, settings: Settings | None = None) -> None:
    with open_output(uri, settings) as stream:
        stream.write(data)


def read_bytes(uri: str, settings: Settings | None = None) -> bytes:
    fs, path = filesystem_for(uri, settings)
    with fs.open_input_stream(path, compression=None) as stream:
        return stream.read()


def read_parquet(uri: str, settings: Settings | None = None, **options: Any) -> pa.Table:
    """A Parquet file as a table (`options` go to `pyarrow.parquet.read_table`). On object
    stores the object is fetched in one GET: a path-based read costs three HEADs and two
    GETs per file, which dominates steps that exchange many small files."""
    fs, path = filesystem_for(uri, settings)
    if is_object_store(fs):
        with fs.open_input_stream(path, compression=None) as stream:
            return pq.read_table(pa.BufferReader(stream.read()), **options)
    return pq.read_table(path, filesystem=fs, **options)


def exists(uri: str, settings: Settings | None = None) -> bool:
    fs, path = filesystem_for(uri, settings)
    return fs.get_file_info(path).type == pafs.FileType.File


def delete_tree(uri: str, settings: Settings | None = None) -> None:
    """Delete a folder (every object under a prefix) if it exists."""
    fs, path = filesystem_for(uri, settings)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)


def upload_file(local: str | Path, uri: str, settings: Settings | None = None) -> None:
    with open(local, "rb") as source, open_output(uri, settings) as target:
        shutil.copyfileobj(source, target, COPY_CHUNK)  # type: ignore[misc]


def download_file(
    uri: str, target: Path, expected_sha256: str | None = None, settings: Settings | None = None
) -> str:
    """Copy `uri` to the local `target` (renamed into place when complete and, given
    `expected_sha256`, only if it hashes to it); returns its sha256."""
    fs, path = filesystem_for(uri, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    digest = hashlib.sha256()
    try:
        with fs.open_input_stream(path, compression=None) as source, open(temp, "wb") as out:
            _copy_hashing(source, out, digest)
        got = digest.hexdigest()
        if expected_sha256 is not None and got != expected_sha256:
            raise StorageChecksumError(
                f"{redact(uri)} has sha256 {got[:16]}..., expected {expected_sha256[:16]}...: "
                "the object is corrupt or from another version"
            )
        os.replace(temp, target)
    except OSError as exc:
        raise StorageError(f"cannot download {redact(uri)}: {explain(exc, settings)}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return got


def _copy_hashing(source: pa.NativeFile, out: BinaryIO, digest) -> None:
    while chunk := source.read(COPY_CHUNK):
        digest.update(chunk)
        out.write(chunk)
