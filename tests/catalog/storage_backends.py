"""A storage backend that is not a folder, to show the catalog needs only the interface
(an S3-compatible backend has the same shape: bytes in a bucket, URLs on a CDN)."""

BUCKETS: dict[str, dict[str, tuple[bytes, str]]] = {}


class BucketStorage:
    def __init__(self, bucket: dict):
        self.bucket = bucket

    def save(self, key, data, content_type):
        self.bucket[key] = (data, content_type)

    def load(self, key):
        item = self.bucket.get(key)
        return item[0] if item else None

    def delete(self, key):
        self.bucket.pop(key, None)

    def url(self, request, key):
        return f"https://cdn.example.test/{key}"


def make_bucket_storage(settings):
    return BucketStorage(BUCKETS.setdefault(settings["upload_dir"], {}))
