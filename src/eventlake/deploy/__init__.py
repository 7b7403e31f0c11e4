"""Deploy the broker to AWS EC2, secure by default: plan, boto3 calls, CloudFormation template.

plan.py decides everything before any AWS call; ec2.py makes and removes it; template.py writes
the same as CloudFormation; parameters.py reads back what the instance published to SSM;
health.py checks the broker from here. user_data.py is the instance's side (its cloud-init script).
"""
