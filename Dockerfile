# One image for every BBS role: `docker run IMAGE broker|proxy|reference|server|bot|client`.
# If compose/wheels/ holds wheels (compose/wheels.sh makes them: the dependencies and the
# build backend), the install is offline; otherwise pip fetches them from PyPI.
FROM docker.io/library/debian:bookworm-slim

# debian:bookworm-slim has no Python; the debootstrapped stand-in used offline already does.
RUN if ! dpkg-query -W python3-venv >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/bbs \
    && useradd --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin bbs \
    && install -d -o bbs -g bbs /data

COPY . /tmp/src
RUN if ls /tmp/src/compose/wheels/*.whl >/dev/null 2>&1; then \
        /opt/bbs/bin/pip install --no-cache-dir --no-index \
            --find-links /tmp/src/compose/wheels /tmp/src; \
    else \
        /opt/bbs/bin/pip install --no-cache-dir /tmp/src; \
    fi \
    && install -m 755 /tmp/src/compose/server-slot.sh /usr/local/bin/bbs-server-slot \
    && rm -rf /tmp/src

ENV PATH=/opt/bbs/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BBS_DATA_DIR=/data
USER bbs
WORKDIR /data
ENTRYPOINT ["bbs"]
CMD ["--help"]
