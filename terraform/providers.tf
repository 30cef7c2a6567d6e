provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = "mcpgw", Service = var.name, ManagedBy = "terraform" }, var.tags)
  }
}
