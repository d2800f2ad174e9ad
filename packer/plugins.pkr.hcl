# Plugins `packer init` installs. Kept apart from ingest.pkr.hcl because packer 1.6.6 (Debian,
# used by the tests to validate the template offline) rejects this block; packer >= 1.7 reads it.
packer {
  required_version = ">= 1.10.0"

  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0, < 2.0.0"
    }
  }
}
