"""Just the resources the runbooks' diagnose steps and `opsctl migrate`'s SSM path read, made with
boto3 on moto (seconds, instead of applying the whole stack), plus the Terraform state object
whose outputs opsctl reads (`<env>/terraform.tfstate` in the env's state bucket)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opsctl import aws
from opsctl.bluegreen import record

REGION, BUCKET, ENV = "eu-west-1", "ingest-tfstate-local", "local"
PREFIX = f"ingest-{ENV}"


@dataclass
class Local:
    url: str
    outputs: dict[str, Any]

    def client(self, service: str) -> Any:
        return aws.client(service, REGION, self.url)


def create(url: str, alarm_keys: dict[str, str] | None = None) -> Local:
    c = lambda service: aws.client(service, REGION, url)  # noqa: E731
    ec2, asg, elbv2 = c("ec2"), c("autoscaling"), c("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    subnet = subnets["Subnets"][0]["SubnetId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{PREFIX}-lt",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg_names, tg_arns = {}, {}
    for colour, desired in (("blue", 1), ("green", 0)):
        tg = elbv2.create_target_group(
            Name=f"{PREFIX}-{colour}", Protocol="HTTP", Port=80, VpcId=vpc["VpcId"]
        )["TargetGroups"][0]["TargetGroupArn"]
        name = f"{PREFIX}-{colour}"
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=0,
            MaxSize=3,
            DesiredCapacity=desired,
            VPCZoneIdentifier=subnet,
            TargetGroupARNs=[tg],
        )
        asg_names[colour], tg_arns[colour] = name, tg
    alb = elbv2.create_load_balancer(
        Name=PREFIX, Subnets=[s["SubnetId"] for s in subnets["Subnets"][:2]]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    # HTTP here (no certificate on moto); the output keeps the name the real stack uses.
    listener = elbv2.create_listener(
        LoadBalancerArn=alb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": tg_arns["blue"], "Weight": 100},
                        {"TargetGroupArn": tg_arns["green"], "Weight": 0},
                    ]
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    ssm = c("ssm")
    record.save_state(ssm, ENV, {"live": "blue", "weights": {"blue": 100, "green": 0}})
    logs = c("logs")
    group = f"/ingest/{ENV}/app"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="i-1")
    import time

    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="i-1",
        logEvents=[
            {"timestamp": now - 2000, "message": '{"level": "info", "message": "started"}'},
            {"timestamp": now - 1000, "message": '{"level": "error", "message": "db down"}'},
            {"timestamp": now - 900, "message": '{"level": "info", "message": "0 errors"}'},
            {"timestamp": now - 800, "message": "Traceback (most recent call last):"},
        ],
    )
    sqs = c("sqs")
    dlq = sqs.create_queue(QueueName=f"{PREFIX}-ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"{PREFIX}-ingest",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        },
    )["QueueUrl"]
    rds = c("rds")
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=f"{PREFIX}-db",
        Engine="aurora-mysql",
        MasterUsername="ingest",
        MasterUserPassword="not-a-real-password",
    )["DBCluster"]
    secret = c("secretsmanager").create_secret(
        Name=f"{PREFIX}/db", SecretString=json.dumps({"username": "ingest", "password": "x"})
    )["ARN"]
    cloudwatch = c("cloudwatch")
    for key, runbook in (alarm_keys or {}).items():
        cloudwatch.put_metric_alarm(
            AlarmName=f"{PREFIX}-{key}",
            MetricName="M",
            Namespace="Test",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": "runbook", "Value": runbook}],
        )
    outputs = {
        "asg_names": asg_names,
        "launch_template_ids": {"blue": template, "green": template},
        "target_group_arns": tg_arns,
        "https_listener_arn": listener,
        "log_group_names": {"app": group},
        "ingest_queue_url": queue,
        "database_endpoint": cluster["Endpoint"],
        "database_secret_arn": secret,
        "metric_namespace": f"Ingest/{ENV}",
    }
    s3 = c("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    state = {"version": 4, "outputs": {k: {"value": v} for k, v in outputs.items()}}
    s3.put_object(Bucket=BUCKET, Key=f"{ENV}/terraform.tfstate", Body=json.dumps(state).encode())
    return Local(url, outputs)
