# memgate in a container: for macOS and Windows users, whose test binaries
# must be Linux ones (docs/github.md, "Docker").
#
#   docker build -t memgate .
#   docker run --rm -v "$PWD":/work -w /work memgate check
#
# The `build` stage keeps the compilers (and memgate, installed): use it to
# build Linux test programs and gate them in one container:
#   docker build --target build -t memgate-dev .

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libcjson-dev libyaml-dev libgit2-dev libcurl4-openssl-dev libdw-dev libelf-dev libiberty-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DMEMGATE_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build \
 && memgate --version
# a repository mounted from the host belongs to another uid: libgit2, like git,
# refuses it unless trusted; the mounted checkout is the user's own
RUN printf '[safe]\n\tdirectory = *\n' > /etc/gitconfig

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcjson1 libyaml-0-2 libgit2-1.5 libcurl4 libdw1 libelf1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/memgate /usr/local/bin/memgate
COPY --from=build /usr/local/lib/memgate /usr/local/lib/memgate
COPY --from=build /etc/gitconfig /etc/gitconfig
RUN memgate --version
WORKDIR /work
ENTRYPOINT ["memgate"]
CMD ["help"]
