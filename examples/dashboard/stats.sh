#!/usr/bin/env bash
# Live system statistics for the dashboard example, one line per interval:
#
#   <cpu busy %> <load average, 1 min> <memory used %>
#
# e.g. "12.5 0.42 37.1". wsplex sends each line to the browser as one text
# message; static/index.html draws them. Linux only (/proc).
#
#   wsplex --staticdir=examples/dashboard/static --port=8080 examples/dashboard/stats.sh
#
# Optional argument: the interval in seconds (default 1; fractions allowed).
set -u
interval=${1:-1}

if [[ ! -r /proc/stat || ! -r /proc/loadavg || ! -r /proc/meminfo ]]; then
	echo "stats.sh needs Linux's /proc" >&2
	exit 1
fi

# cpu_sample sets busy and total from the first line of /proc/stat:
# "cpu user nice system idle iowait irq softirq steal ...".
cpu_sample() {
	local _cpu user nice system idle iowait irq softirq steal rest
	read -r _cpu user nice system idle iowait irq softirq steal rest </proc/stat
	total=$((user + nice + system + idle + iowait + irq + softirq + steal))
	busy=$((total - idle - iowait))
}

# mem_used prints the used share of memory, in tenths of a percent.
mem_used() {
	local key value _unit total=0 avail=0
	while read -r key value _unit; do
		case $key in
		MemTotal:) total=$value ;;
		MemAvailable:) avail=$value ;;
		esac
	done </proc/meminfo
	((total > 0)) && echo $(((total - avail) * 1000 / total)) || echo 0
}

# tenths prints n/10 with one decimal.
tenths() { printf '%d.%d' $(($1 / 10)) $(($1 % 10)); }

cpu_sample
prev_busy=$busy prev_total=$total
while sleep "$interval"; do
	cpu_sample
	dt=$((total - prev_total))
	cpu=0
	((dt > 0)) && cpu=$(((busy - prev_busy) * 1000 / dt))
	prev_busy=$busy prev_total=$total
	read -r load1 _rest </proc/loadavg
	echo "$(tenths "$cpu") $load1 $(tenths "$(mem_used)")" || exit 0
done
