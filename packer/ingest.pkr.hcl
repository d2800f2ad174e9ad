# The AMI every ingest instance boots from: Amazon Linux 2023 + nginx + the ingest service
# (wheel in /opt/ingest/venv, systemd units) + the CloudWatch agent. First boot is wired to a
# stack by the compute module's user data (modules/compute/templates/user-data.sh.tftpl).
#
#   make ami                                   # builds the wheel, then runs:
#   packer init packer/ && packer build -var wheel=dist/<wheel> -var git_sha=... packer/
#
# Plugins are declared in plugins.pkr.hcl (see there why it is a separate file).

variable "region" {
  type        = string
  description = "AWS region the AMI is built in (and registered in). Default: eu-west-1."
  default     = "eu-west-1"
}

variable "architecture" {
  type        = string
  description = "CPU architecture of the AMI: x86_64 (default) or arm64 (Graviton)."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "instance_type" {
  type        = string
  description = "Build instance type. Default: empty = t3.small on x86_64, t4g.small on arm64."
  default     = ""
}

variable "app_version" {
  type        = string
  description = "Version of the service in the AMI (the wheel's version), tagged as Version."

  validation {
    condition     = length(var.app_version) > 0 && length(trim(lower(var.app_version), "0123456789abcdefghijklmnopqrstuvwxyz.+_-")) == 0
    error_message = "The app_version must be a version string such as 0.1.0."
  }
}

variable "git_sha" {
  type        = string
  description = "Commit the AMI is built from (7-40 hex digits), tagged as GitSha."

  validation {
    condition     = length(var.git_sha) >= 7 && length(var.git_sha) <= 40 && length(trim(var.git_sha, "0123456789abcdef")) == 0
    error_message = "The git_sha must be 7 to 40 lowercase hex digits."
  }
}

variable "wheel" {
  type        = string
  description = "Path of the service wheel to install (make ami builds it into dist/)."

  validation {
    condition     = length(var.wheel) > 4 && substr(var.wheel, -4, 4) == ".whl"
    error_message = "The wheel must be a path ending in .whl."
  }
}

variable "root_volume_size" {
  type        = number
  description = "Root volume size in GiB (default 8). The compute module's root_volume_size must be at least this."
  default     = 8
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (id, alias or ARN) encrypting the AMI's snapshot. Default: empty = the AWS-managed aws/ebs key."
  default     = ""
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the build instance (needs a route to the internet for dnf and PyPI). Default: empty = the default VPC."
  default     = ""
}

variable "ssh_source_cidrs" {
  type        = list(string)
  description = "CIDRs the temporary security group admits SSH from during the build. Default: 0.0.0.0/0 (temporary key pair, minutes long); narrow it to the builder's address."
  default     = ["0.0.0.0/0"]
}

variable "ami_users" {
  type        = list(string)
  description = "Other AWS account ids allowed to launch the AMI (e.g. prod when built in a tooling account). Default: none."
  default     = []
}

variable "manifest_path" {
  type        = string
  description = "Where the manifest post-processor records the AMI id. Default: empty = build/ami-manifest.json in the repository."
  default     = ""
}

locals {
  manifest      = var.manifest_path != "" ? var.manifest_path : "${path.root}/../build/ami-manifest.json"
  instance_type = var.instance_type != "" ? var.instance_type : (var.architecture == "arm64" ? "t4g.small" : "t3.small")
  timestamp     = formatdate("YYYYMMDDhhmmss", timestamp())
  ami_name      = "ingest-${var.app_version}-${var.architecture}-${local.timestamp}"
  wheel_name    = basename(var.wheel)
  staging       = "/tmp/ingest-build"

  tags = {
    Name         = local.ami_name
    Application  = "ingest"
    Version      = var.app_version
    GitSha       = var.git_sha
    Architecture = var.architecture
    BaseAMI      = "{{ .SourceAMI }}"
    BaseAMIName  = "{{ .SourceAMIName }}"
    BuiltBy      = "packer"
  }
}

source "amazon-ebs" "al2023" {
  region        = var.region
  instance_type = local.instance_type
  subnet_id     = var.subnet_id
  ami_name      = local.ami_name
  ami_users     = var.ami_users

  ami_description = "ingest ${var.app_version} (${var.git_sha}) on Amazon Linux 2023, ${var.architecture}"

  # The latest Amazon Linux 2023 (standard, not minimal) for the architecture, published by Amazon.
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-*-${var.architecture}"
      architecture        = var.architecture
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh_username                          = "ec2-user"
  temporary_security_group_source_cidrs = var.ssh_source_cidrs

  # The build instance allows IMDSv2 only, like the instances the launch templates start.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # Encrypted root volume during the build and in the registered AMI.
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    iops                  = 3000 # gp3 baseline, stated because packer checks gp3 throughput
    throughput            = 125
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  tags          = local.tags
  snapshot_tags = local.tags
  run_tags      = merge(local.tags, { Name = "packer-${local.ami_name}" })
}

build {
  sources = ["source.amazon-ebs.al2023"]

  provisioner "shell" {
    inline = ["mkdir -p ${local.staging}"]
  }

  provisioner "file" {
    source      = var.wheel
    destination = "${local.staging}/${local.wheel_name}"
  }

  # No trailing slash: the directory itself lands as ${local.staging}/files.
  provisioner "file" {
    source      = "${path.root}/files"
    destination = local.staging
  }

  provisioner "shell" {
    script          = "${path.root}/scripts/provision.sh"
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "INGEST_WHEEL=${local.staging}/${local.wheel_name}",
      "INGEST_FILES=${local.staging}/files",
      "INGEST_VERSION=${var.app_version}",
      "INGEST_GIT_SHA=${var.git_sha}",
    ]
  }

  # build/ami-manifest.json by default: packer/build.sh (make ami) reads the AMI id ("region:ami-...") from it.
  post-processor "manifest" {
    output     = local.manifest
    strip_path = true
    custom_data = {
      version = var.app_version
      git_sha = var.git_sha
    }
  }
}
