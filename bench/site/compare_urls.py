#!/usr/bin/env python3
"""Compare the URLs a crawler produced with the ground-truth page list (stdlib only).

From the shared crawl harness (only type hints and formatting differ).

Usage: compare_urls.py TRUTH_LIST CRAWLER_OUTPUT
  TRUTH_LIST      one URL a line, e.g. from `site_truth.py --list /tmp/truth.txt`
  CRAWLER_OUTPUT  JSON lines with a "url" field (the Scrapy feed) or one URL a line
Fragments are dropped before comparing. Exit 0 when the sets are equal, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urldefrag


def load(path: str) -> list[str]:
    urls = []
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            url = json.loads(line)["url"] if line.startswith("{") else line
            urls.append(urldefrag(url)[0])
    return urls


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    truth, got_list = set(load(sys.argv[1])), load(sys.argv[2])
    got = set(got_list)
    print(
        f"truth={len(truth)} crawler_rows={len(got_list)} crawler_distinct={len(got)} "
        f"missing={len(truth - got)} extra={len(got - truth)}"
    )
    for u in sorted(truth - got)[:20]:
        print(f"  missing: {u}")
    for u in sorted(got - truth)[:20]:
        print(f"  extra:   {u}")
    sys.exit(0 if got == truth else 1)


if __name__ == "__main__":
    main()
