"""Share the image with the course account: one launch permission, checked by its check."""

from __future__ import annotations

from stemcell.content.models import ShareImageParams
from stemcell.engine.context import Context
from stemcell.engine.errors import SkipStep
from stemcell.engine.student_desk import Brief, Progress
from stemcell.handson.task_base import TaskBase, all_passed, host_of, q


class Task(TaskBase):
    def account(self, ctx: Context) -> str:
        params = self.spec.typed_params(ShareImageParams)
        account = params.account_id or ctx.config.course_account or ctx.lab.course_account
        if not account:
            raise SkipStep("no course account configured (lab course_account or "
                           "--course-account)")
        return str(account)

    def brief(self, ctx: Context) -> Brief:
        account, image = self.account(ctx), ctx.need("image_id")
        return Brief(
            goal=f"Let the course account {account} launch your image {image}.",
            commands=[f"aws ec2 modify-image-attribute --image-id {q(image)} "
                      f"--launch-permission {q(f'Add=[{{UserId={account}}}]')}"],
            console=f"EC2 console > AMIs > {image} > Actions > Edit AMI permissions > "
                    f"Add account ID {account}.",
        )

    def look(self, ctx: Context) -> Progress:
        image = ctx.need("image_id")
        lines = self.check_host(ctx, host_of(ctx, image, "image", ami=image), cloud_only=True)
        return Progress(done=bool(lines) and all_passed(lines), found=f"image {image}",
                        lines=lines)
