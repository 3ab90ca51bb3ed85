"""What the booth says when the bucket answers with an error, from obstore's real exceptions
against the S3-protocol server: an object key (the secret of a guest's cloud link) never
reaches the log, the uploads table or the retained health message."""

from __future__ import annotations

import obstore
import pytest

from share.cloud import Bucket, CloudError, classify

KEY = "booth/SECRETKEY0123456789"


@pytest.fixture
def bucket(cloud_config):
    return Bucket(cloud_config().cloud)


def _raised(call) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


def test_a_missing_object_is_not_found_without_its_key(bucket):
    exc = _raised(lambda: obstore.get(bucket.store, KEY))
    assert isinstance(exc, FileNotFoundError)  # obstore's 404 is Python's own
    said = classify(exc, "read")
    assert said.kind == "other" and said.message == "read: not found"


@pytest.mark.s3("moto")  # s3rver ignores If-None-Match: its conditional PUT just overwrites
def test_a_refused_precondition_names_no_key(bucket):
    obstore.put(bucket.store, KEY, b"x", mode="create")
    exc = _raised(lambda: obstore.put(bucket.store, KEY, b"x", mode="create"))
    assert "SECRETKEY" in str(exc)  # obstore's text carries the key …
    said = classify(exc, "upload")
    assert isinstance(said, CloudError) and "SECRETKEY" not in said.message, said.message
    assert said.message.startswith("upload: ")  # … ours does not
