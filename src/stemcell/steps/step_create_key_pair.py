"""An ed25519 key made here, its public half imported; the private half stays local.

The private key is written 0600 (created with that mode, never wider for a
moment) in the run folder, in OpenSSH format, and never printed or recorded.
"""

from __future__ import annotations

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.cloud.aws_errors import explain
from stemcell.cloud.tags import ctx_tags, tag_spec
from stemcell.engine.context import Context
from stemcell.engine.run_folder import RunFolder, write_private
from stemcell.engine.step import BaseStep


class KeyPairStep(BaseStep):
    def run(self, ctx: Context) -> None:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH)
        folder = RunFolder(ctx.run_dir)
        path = write_private(folder.key, private)  # 0600 from its first byte
        folder.public_key.write_bytes(public + b"\n")
        name = f"stemcell-{ctx.run_id}"
        try:
            reply = ctx.cloud.ec2.import_key_pair(
                KeyName=name,
                PublicKeyMaterial=public,
                TagSpecifications=tag_spec(ctx_tags(ctx, name=name), "key-pair"),
            )
        except ClientError as exc:
            raise explain(exc, "importing the key pair") from None
        ctx.record_resource("key_pair", reply["KeyPairId"], name, path=str(path))
        ctx.put("key_name", name)
        ctx.put("key_path", str(path))
        ctx.log(f"key pair {name} imported; private key saved at {path} (mode 0600)")
