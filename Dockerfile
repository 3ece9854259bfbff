# The single-user image for a class: Zero to JupyterHub (singleuser.image) and Binder
# (repo2docker builds this Dockerfile when it finds it at the top of the repository).
#
#   docker build -t autograd-kernel .
#   docker run -p 8888:8888 autograd-kernel            # JupyterLab with the tutorials
#
# Stage 1 runs the same admin's command as a shared server, ./install.sh --system: the kernel,
# its own copy of the toolchain, autograd-core with vendored dependencies and the prebuilt
# engine, read-only under /opt/autograd-kernel, plus the kernelspec in /usr/local/share/jupyter.
# Stage 2 is the slim runtime: Python with JupyterLab, a C linker for the cells, those two
# directories, the tutorials, and a non-root user (uid 1000, as Binder and Z2JH expect).
FROM rust:1-bookworm AS build
RUN rustup component add rust-src \
 && apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# jupyter is not needed to build: the kernelspec goes where every Jupyter looks
RUN CARGO_TARGET_DIR=/tmp/target ./install.sh --system && rm -rf /tmp/target

FROM python:3.12-slim-bookworm
# cells are linked with the system linker; git for students who clone their course repository
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev git \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir jupyterhub jupyterlab notebook
COPY --from=build /opt/autograd-kernel /opt/autograd-kernel
COPY --from=build /usr/local/share/jupyter/kernels/rust-autograd /usr/local/share/jupyter/kernels/rust-autograd

ARG NB_USER=jovyan
ARG NB_UID=1000
ENV USER=${NB_USER} HOME=/home/${NB_USER}
RUN useradd --create-home --uid ${NB_UID} --shell /bin/bash ${NB_USER}
COPY --chown=${NB_UID} notebooks ${HOME}/notebooks
USER ${NB_USER}
WORKDIR ${HOME}
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "notebooks"]
