import json

from django.core.management.base import BaseCommand, CommandError

from cacheadmin import operations
from cacheadmin.panel import duration


class Command(BaseCommand):
    help = "Show the response cache's statistics (this app's hits and misses, keys, memory)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the statistics as JSON.")

    def handle(self, *args, **options):
        stats = operations.stats()
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
        else:
            self.stdout.write(self.table(stats))
        if not stats["available"]:
            raise CommandError(operations.unavailable_message())

    def table(self, stats):
        ttl = stats["ttl_seconds"]
        if not stats["available"]:
            return f"Response cache: unavailable\nTTL: static {ttl['static']} s, dynamic {ttl['dynamic']} s"
        lines = [
            f"Response cache: available (Redis {stats['redis_version']}, "
            f"up {duration(stats['uptime_seconds'], most=2)})",
            f"Keys: {stats['keys_count']}    Memory used by Redis: {stats['memory_used_mb']} MB    "
            f"Evicted keys: {stats['evictions']}",
            f"Hits: {stats['hits']}    Misses: {stats['misses']}    Hit rate: {stats['hit_rate_percent']} %",
            f"TTL: static {ttl['static']} s, dynamic {ttl['dynamic']} s",
            "",
            f"{'namespace':<10} {'keys':>10} {'hits':>10} {'misses':>10} {'hit rate':>10}",
        ]
        for namespace, keys, hits, misses, rate in operations.namespace_rows(stats):
            lines.append(f"{namespace:<10} {keys:>10} {hits:>10} {misses:>10} {f'{rate} %':>10}")
        return "\n".join(lines)
