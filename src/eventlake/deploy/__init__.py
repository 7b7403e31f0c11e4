"""Deploy the broker to AWS EC2, secure by default: plan, boto3 calls, CloudFormation template.

plan.py decides everything before any AWS call; ec2.py makes and removes it; template.py writes
the same as CloudFormation; parameters.py reads back what the instance published to SSM;
health.py checks the broker from here. The instance's own side is user_data.py (it renders
bootstrap.sh, the cloud-init script) and instance.py (what that script runs: names from IMDSv2,
secrets published to SSM).
"""
