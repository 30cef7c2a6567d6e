#!/usr/bin/env bash
# Offline checks of terraform/: fmt, then init, validate and `terraform test` (mock AWS provider)
# for every module and the root, the plan-time message for an invalid Fargate size, the example
# tfvars and the ECR bootstrap of docs/DEPLOY.md, the ECS service's dependency on the ALB's
# forwarding rule (terraform graph), a real-provider plan of the ALB target group's
# replacement, the modules' README tables, and the Dockerfile's agreement with docs/DEPLOY.md.
# No network: providers come from a filesystem mirror.
#
# Last line: "terraform: N passed, M failed" (N, M count test runs and checks); exit 1 on any
# failure, and when terraform or the provider mirror cannot be found.
#
# Environment:
#   TF_PROVIDER_MIRROR  mirror root (the folder holding registry.terraform.io); found otherwise
#   TF_TEST_JOBS        directories tested in parallel (default: number of CPUs)
#   KEEP_TF_BUILD=1     keep the scratch copy (path printed) instead of deleting it
set -u -o pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
src="$repo/terraform"
here="$repo/tests/terraform"

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP  %s\n' "$1"; }
finish() {
	[ "$skipped" -gt 0 ] && printf 'terraform: %d skipped (not counted as passed)\n' "$skipped"
	printf 'terraform: %d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ]
	exit $?
}
abort() { # a missing prerequisite: nothing can be checked, and that is a failure
	printf 'terraform: cannot run: %s\n' "$1" >&2
	fail "prerequisite: $1"
	finish
}

# ---------------------------------------------------------------------------------------------
# Prerequisites: terraform >= 1.9 and the aws provider in a filesystem mirror.

command -v terraform >/dev/null 2>&1 || abort "terraform is not on PATH (1.9 or newer is needed)"
tf_version=$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p' | head -n 1)
case "$tf_version" in
'' | 0.* | 1.[0-8] | 1.[0-8].*) abort "terraform ${tf_version:-of unknown version} is too old: 1.9 or newer is needed" ;;
esac

build=$(mktemp -d "${TMPDIR:-/tmp}/mcpgw-terraform.XXXXXX") || abort "mktemp failed"
if [ "${KEEP_TF_BUILD:-0}" = 1 ]; then
	printf 'scratch copy kept in %s\n' "$build"
else
	trap 'rm -rf "$build"' EXIT
fi

# A mirror root holds registry.terraform.io/hashicorp/aws/<version>/<os_arch>/ (unpacked) or the
# provider's zip files. A bare provider binary found elsewhere is linked into a mirror we make.
mirror=""
if [ -n "${TF_PROVIDER_MIRROR:-}" ]; then
	[ -d "$TF_PROVIDER_MIRROR/registry.terraform.io/hashicorp/aws" ] ||
		abort "TF_PROVIDER_MIRROR=$TF_PROVIDER_MIRROR has no registry.terraform.io/hashicorp/aws in it"
	mirror=$TF_PROVIDER_MIRROR
elif [ -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ]; then
	mirror=/opt/tf-plugins
else
	found=$(find / -name 'terraform-provider-aws*' -not -path '/proc/*' -not -path "$build/*" -not -path '*/.terraform/*' 2>/dev/null | head -n 1)
	case "$found" in
	'') abort "no hashicorp/aws provider found (set TF_PROVIDER_MIRROR to a filesystem mirror holding registry.terraform.io/hashicorp/aws)" ;;
	*/registry.terraform.io/*) mirror=${found%%/registry.terraform.io/*} ;;
	*)
		ver=$(basename "$found" | sed -n 's/^terraform-provider-aws_v\([0-9][0-9.]*\)_x[0-9]*$/\1/p')
		[ -n "$ver" ] || abort "found $found, which is neither in a mirror nor a provider binary"
		arch=$(terraform version -json | sed -n 's/.*"platform": *"\([a-z0-9_]*\)".*/\1/p' | head -n 1)
		mkdir -p "$build/mirror/registry.terraform.io/hashicorp/aws/$ver/$arch"
		ln -s "$found" "$build/mirror/registry.terraform.io/hashicorp/aws/$ver/$arch/$(basename "$found")"
		mirror="$build/mirror"
		;;
	esac
fi

if [ "$mirror" = /opt/tf-plugins ] && [ -f "$src/terraformrc" ]; then
	export TF_CLI_CONFIG_FILE="$src/terraformrc"
else
	cat >"$build/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
	export TF_CLI_CONFIG_FILE="$build/terraformrc"
fi
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_DATA_DIR TF_WORKSPACE
printf 'terraform %s, provider mirror %s, CLI config %s\n' "$tf_version" "$mirror" "$TF_CLI_CONFIG_FILE"

# ---------------------------------------------------------------------------------------------
# Format (on the sources), then work on a copy so that no .terraform/ or lock file is left in the
# tree.

if out=$(terraform fmt -check -recursive -diff "$src" 2>&1); then
	pass "fmt -check -recursive terraform/"
else
	printf '%s\n' "$out"
	fail "fmt -check -recursive terraform/ (run: terraform fmt -recursive terraform)"
fi

tar -C "$repo" --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate*' -cf - terraform | tar -C "$build" -xf - ||
	abort "could not copy terraform/ to $build"

# One directory: init, validate, test. Writes "<verdict> <what>" lines to $build/results/<tag>
# and the tools' output to $build/logs/<tag>.*.log.
check_dir() {
	local dir=$1 tag=$2 res="$build/results/$2" log="$build/logs/$2"
	: >"$res"
	if ! (cd "$dir" && terraform init -backend=false -input=false -no-color) >"$log.init.log" 2>&1; then
		echo "FAIL $tag: init" >>"$res"
		return
	fi
	echo "PASS $tag: init" >>"$res"
	if (cd "$dir" && terraform validate -no-color) >"$log.validate.log" 2>&1; then
		echo "PASS $tag: validate" >>"$res"
	else
		echo "FAIL $tag: validate" >>"$res"
	fi
	(cd "$dir" && terraform test -no-color) >"$log.test.log" 2>&1
	local rc=$? summary p f s
	summary=$(grep -E '^(Success|Failure)! [0-9]+ passed, [0-9]+ failed' "$log.test.log" | tail -n 1)
	if [ -z "$summary" ]; then
		echo "FAIL $tag: test (no summary; exit $rc)" >>"$res"
		return
	fi
	p=$(sed -E 's/^[A-Za-z]+! ([0-9]+) passed.*/\1/' <<<"$summary")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary")
	s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$summary")
	s=${s:-0}
	# Runs skipped by terraform test follow a failure in their file: they count as failed.
	echo "RUNS $tag $p $((f + s))" >>"$res"
	grep -E '^  run "[^"]+"\.\.\. (fail|skip)$' "$log.test.log" | sed "s/^  /NOTE $tag: /" >>"$res"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		echo "FAIL $tag: test (exit $rc)" >>"$res"
	fi
	if [ "$tag" = root ]; then
		check_size_message "$dir" "$res" "$log"
		check_example "$dir" "$res" "$log"
		check_service_after_rule "$dir" "$res" "$log"
	fi
	if [ "$tag" = module-alb ]; then
		check_alb_replacement "$res" "$log"
	fi
}

# terraform.tfvars.example, which operators copy, passes every validation and plans, and the
# ECR bootstrap of docs/DEPLOY.md (apply -target=module.ecr, push, apply) works from it.
check_example() {
	local dir=$1 res=$2 log=$3
	mkdir -p "$dir/example-tests"
	cp "$here/fixtures/example_tfvars.tftest.hcl" "$dir/example-tests/"
	if (cd "$dir" && terraform test -no-color -test-directory=example-tests -var-file=terraform.tfvars.example) >"$log.example.log" 2>&1; then
		echo "PASS root: terraform.tfvars.example validates and plans; the ECR bootstrap of docs/DEPLOY.md works from it" >>"$res"
	else
		echo "FAIL root: terraform.tfvars.example must validate and plan, and the ECR bootstrap of docs/DEPLOY.md must work from it" >>"$res"
	fi
}

# A port change replaces the ALB's target group: the new group must be created before the old
# one is destroyed (create_before_destroy) under a name of its own (name_prefix, no name), or
# the apply wedges. A mock provider cannot plan a replacement, so this plans the alb module with
# the real provider, offline (fake credentials, no refresh, no data sources in the module):
# once from nothing, to make a state holding the group; once with that state and the same port
# (no change expected: the state is faithful); once with another port.
check_alb_replacement() {
	local res=$1 log=$2 dir="$build/alb-replacement" what="module-alb: a port change replaces the target group create-before-destroy, named by prefix (real provider, offline)"
	if ! command -v jq >/dev/null 2>&1; then
		echo "FAIL $what: jq is not installed (make deps installs it)" >>"$res"
		return
	fi
	mkdir -p "$dir"
	cp "$src"/modules/alb/*.tf "$dir/"
	cat >"$dir/offline_provider.tf" <<'TF'
provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "AKIAOFFLINE000000000"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}
TF
	cat >"$dir/terraform.tfvars" <<'TF'
name              = "mcpgw"
vpc_id            = "vpc-0123456789abcdef0"
vpc_cidr_block    = "10.0.0.0/16"
public_subnet_ids = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
certificate_arn   = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-1111-2222-3333-444444444444"
TF
	local tg='.resource_changes[] | select(.address == "aws_lb_target_group.this")'
	if ! (
		set -e
		cd "$dir"
		terraform init -backend=false -input=false -no-color
		terraform plan -refresh=false -input=false -no-color -out=create.tfplan
		terraform show -json create.tfplan >create.json
		# The planned group, with made-up values for what AWS would compute, as a state.
		jq --arg v "$tf_version" '{version: 4, terraform_version: $v, serial: 1,
			lineage: "00000000-0000-4000-8000-000000000000", outputs: {},
			resources: [.planned_values.root_module.resources[] | select(.address == "aws_lb_target_group.this") | {
				mode, type, name, provider: "provider[\"registry.terraform.io/hashicorp/aws\"]",
				instances: [{schema_version, create_before_destroy: true, sensitive_attributes: [],
					attributes: (.values + {
						id: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mcpgw20240101/0123456789abcdef",
						arn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mcpgw20240101/0123456789abcdef",
						arn_suffix: "targetgroup/mcpgw20240101/0123456789abcdef", name: "mcpgw20240101",
						ip_address_type: "ipv4", load_balancing_algorithm_type: "round_robin",
						load_balancing_anomaly_mitigation: "off",
						load_balancing_cross_zone_enabled: "use_load_balancer_configuration",
						connection_termination: false, load_balancer_arns: [], target_failover: [],
						target_group_health: [], target_health_state: [],
						stickiness: [{enabled: false, type: "lb_cookie", cookie_duration: 86400, cookie_name: ""}]})}]}]}' \
			create.json >terraform.tfstate
		terraform plan -refresh=false -input=false -no-color -out=same.tfplan
		terraform show -json same.tfplan >same.json
		terraform plan -refresh=false -input=false -no-color -var target_port=9090 -out=port.tfplan
		terraform show -json port.tfplan >port.json
	) >"$log.replacement.log" 2>&1; then
		echo "FAIL $what: planning failed (see the log)" >>"$res"
		return
	fi
	local same port cfg
	same=$(jq -c "[$tg | .change.actions]" "$dir/same.json")
	port=$(jq -c "[$tg | {actions: .change.actions, replace: .change.replace_paths, name_prefix: .change.after.name_prefix, name_unknown: .change.after_unknown.name}]" "$dir/port.json")
	cfg=$(jq -c '[.configuration.root_module.resources[] | select(.address == "aws_lb_target_group.this") | .expressions | {name: has("name"), name_prefix: has("name_prefix")}]' "$dir/port.json")
	printf 'same port: %s\nport 9090: %s\nconfiguration: %s\n' "$same" "$port" "$cfg" >>"$log.replacement.log"
	if [ "$same" = '[["no-op"]]' ] &&
		[ "$port" = '[{"actions":["create","delete"],"replace":[["port"]],"name_prefix":"mcpgw","name_unknown":true}]' ] &&
		[ "$cfg" = '[{"name":false,"name_prefix":true}]' ]; then
		echo "PASS $what" >>"$res"
	else
		echo "FAIL $what: same port $same; port 9090 $port; configuration $cfg" >>"$res"
	fi
}

# The ECS service must be created after the HTTPS listener's forwarding rule: the target group is
# attached to the load balancer through that rule alone (the listener's default action is a fixed
# 404), and ECS refuses a target group attached to none. terraform test cannot see dependencies;
# `terraform graph` (offline, no provider call) can: the service must reach the rule by its edges.
check_service_after_rule() {
	local dir=$1 res=$2 log=$3 what="root: the ECS service depends on the ALB's forwarding rule (terraform graph)"
	if ! (cd "$dir" && terraform graph) >"$log.graph.log" 2>&1; then
		echo "FAIL $what: terraform graph failed (see the log)" >>"$res"
		return
	fi
	if awk -v from='module.service.aws_ecs_service.this' -v to='module.alb.aws_lb_listener_rule.public' '
		/" -> "/ {
			line = $0
			sub(/^[ \t]*"/, "", line)
			sub(/"[ \t]*;?[ \t]*$/, "", line)
			k = index(line, "\" -> \"")
			a = substr(line, 1, k - 1)
			next_of[a] = next_of[a] SUBSEP substr(line, k + 6)
		}
		END {
			seen[from] = 1
			queue[n = 1] = from
			for (i = 1; i <= n; i++) {
				m = split(next_of[queue[i]], nb, SUBSEP)
				for (j = 1; j <= m; j++)
					if (nb[j] != "" && !(nb[j] in seen)) {
						seen[nb[j]] = 1
						queue[++n] = nb[j]
					}
			}
			exit !(to in seen)
		}' "$log.graph.log"; then
		echo "PASS $what" >>"$res"
	else
		echo "FAIL $what: module.service.aws_ecs_service.this does not depend on module.alb.aws_lb_listener_rule.public (the alb module's target_group_arn output must depend on the rule)" >>"$res"
	fi
}

# An invalid Fargate size is refused at plan with a message that lists the valid memory sizes.
# expect_failures in the .tftest.hcl files proves the refusal; this proves what it says.
check_size_message() {
	local dir=$1 res=$2 log=$3 rc flat
	local want='Valid memory (MiB) for cpu 256: 512, 1024, 2048.'
	mkdir -p "$dir/negative-tests"
	cp "$here/fixtures/bad_task_size.tftest.hcl" "$dir/negative-tests/"
	(cd "$dir" && terraform test -no-color -test-directory=negative-tests) >"$log.size-message.log" 2>&1
	rc=$?
	flat=$(tr -s ' \n' '  ' <"$log.size-message.log")
	if [ "$rc" -ne 0 ] && grep -qF "$want" <<<"$flat" && grep -qF 'task_memory = 4096' <<<"$flat"; then
		echo "PASS root: cpu 256 / memory 4096 refused at plan, the message lists 512, 1024, 2048" >>"$res"
	else
		echo "FAIL root: cpu 256 / memory 4096 must be refused at plan with \"$want\" (exit $rc)" >>"$res"
	fi
}

mkdir -p "$build/results" "$build/logs"
# Longest first (runs per directory), so that the parallel jobs finish together.
dirs=()
tags=()
for m in service root network alb data autoscaling ecr; do
	if [ "$m" = root ]; then
		dirs+=("$build/terraform")
		tags+=(root)
	else
		dirs+=("$build/terraform/modules/$m")
		tags+=("module-$m")
	fi
done
for m in "$build"/terraform/modules/*/; do # modules added later are tested too
	case " ${tags[*]} " in *" module-$(basename "$m") "*) ;; *)
		dirs+=("${m%/}")
		tags+=("module-$(basename "$m")")
		;;
	esac
done

jobs_max=${TF_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
running=0
for i in "${!dirs[@]}"; do
	if [ "$running" -ge "$jobs_max" ]; then
		wait -n
		running=$((running - 1))
	fi
	check_dir "${dirs[$i]}" "${tags[$i]}" &
	running=$((running + 1))
done
wait

for tag in "${tags[@]}"; do
	while read -r verdict rest; do
		case "$verdict" in
		PASS) pass "$rest" ;;
		FAIL) fail "$rest" ;;
		SKIP) skip "$rest" ;;
		NOTE) printf '      %s\n' "$rest" ;; # a run inside a counted terraform test
		RUNS)
			read -r t p f <<<"$rest"
			passed=$((passed + p))
			failed=$((failed + f))
			printf '%s  %s: terraform test, %d runs passed, %d failed\n' "$([ "$f" -eq 0 ] && echo PASS || echo FAIL)" "$t" "$p" "$f"
			;;
		esac
	done <"$build/results/$tag"
	if grep -qE '^(FAIL|NOTE)' "$build/results/$tag"; then
		for l in "$build/logs/$tag".*.log; do
			printf -- '----- %s\n' "${l#"$build"/logs/}"
			grep -v '\.\.\. pass$' "$l" | tail -n 60
		done
	fi
done

# ---------------------------------------------------------------------------------------------
# Every README's input and output tables must match the variables and outputs they document.

if command -v node >/dev/null 2>&1; then
	for d in "$src" "$src"/modules/*/; do
		d=${d%/}
		name=$([ "$d" = "$src" ] && echo "terraform/README.md" || echo "terraform/modules/$(basename "$d")/README.md")
		if out=$(node "$here/readme_tables.mjs" "$d" 2>&1); then
			pass "$name: input and output tables match the .tf files"
		else
			printf '%s\n' "$out"
			fail "$name: input and output tables must match the .tf files (node tests/terraform/readme_tables.mjs --write $d)"
		fi
	done
else
	fail "README input and output tables: node is not installed (make deps installs it)"
fi

# ---------------------------------------------------------------------------------------------
# The Dockerfile (written separately) must agree with docs/DEPLOY.md and with the task definition.

docs="$repo/docs/DEPLOY.md"
dockerfile="$repo/Dockerfile"
base_re='public\.ecr\.aws/docker/library/debian:bookworm[A-Za-z0-9._-]*'
doc_base=$( [ -f "$docs" ] && grep -oE "$base_re" "$docs" | sort -u)
if [ ! -f "$docs" ] || [ -z "$doc_base" ] || [ "$(wc -l <<<"$doc_base")" -ne 1 ]; then
	fail "docs/DEPLOY.md must name exactly one ECR Public base image (found: ${doc_base:-none})"
elif [ ! -f "$dockerfile" ]; then
	skip "Dockerfile base image matches docs/DEPLOY.md ($doc_base): no Dockerfile yet"
	skip "Dockerfile declares VOLUME /run/mcpgw and /tmp: no Dockerfile yet"
else
	# Every FROM naming a Debian image must be the documented ECR Public one (a Docker Hub pull is
	# rate-limited from AWS), and the documented one must be used. Stage names and scratch are skipped.
	froms=$(grep -iE '^[[:space:]]*FROM[[:space:]]' "$dockerfile" | sed -E 's/^[[:space:]]*[Ff][Rr][Oo][Mm][[:space:]]+(--[^[:space:]]+[[:space:]]+)*([^[:space:]]+).*/\2/')
	stages=$(grep -ioE '^[[:space:]]*FROM[[:space:]].*[[:space:]]AS[[:space:]]+[^[:space:]]+' "$dockerfile" | awk '{print tolower($NF)}')
	wrong=""
	for img in $froms; do
		grep -qxF -- "$(tr 'A-Z' 'a-z' <<<"$img")" <<<"$stages" && continue
		[ "$img" = scratch ] && continue
		if grep -qE '(^|/)debian(:|@|$)' <<<"$img" && [ "$img" != "$doc_base" ]; then
			wrong="$wrong $img"
		fi
	done
	if [ -n "$wrong" ]; then
		fail "Dockerfile uses Debian image(s)$wrong; docs/DEPLOY.md names $doc_base"
	elif ! grep -qxF -- "$doc_base" <<<"$froms"; then
		fail "Dockerfile never builds FROM $doc_base, the base image docs/DEPLOY.md names (its FROM lines: $(tr '\n' ' ' <<<"$froms"))"
	else
		pass "Dockerfile base image matches docs/DEPLOY.md ($doc_base)"
	fi
	# Fargate bind mounts are root-owned unless the image declares the path as a VOLUME (its
	# ownership is then copied): a non-root container with a read-only root needs both.
	vols=$(grep -iE '^[[:space:]]*VOLUME[[:space:]]' "$dockerfile" | sed -E 's/^[[:space:]]*[Vv][Oo][Ll][Uu][Mm][Ee][[:space:]]+//; s/[][",]/ /g')
	missing=""
	for p in /run/mcpgw /tmp; do
		grep -qxF -- "$p" <<<"$(tr -s ' ' '\n' <<<"$vols")" || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		pass "Dockerfile declares VOLUME /run/mcpgw and /tmp (writable under a read-only root on Fargate)"
	else
		fail "Dockerfile must declare VOLUME for:$missing (see docs/DEPLOY.md, \"The image\")"
	fi
fi

finish
