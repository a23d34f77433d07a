# syntax=docker/dockerfile:1
# Multi-stage build of gitlab-chatops (the bot) and gitlab-chatops-agent.
# The runtime image holds only static binaries and runs as a non-root user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gitlab-chatops ./cmd/gitlab-chatops \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gitlab-chatops-agent ./cmd/gitlab-chatops-agent \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/gitlab-sim ./cmd/gitlab-sim \
 && mkdir -m 0700 /state

# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot"
# (65532), no shell - nothing here can run user text through a shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# The bot keeps its bbolt file (store:) and admin socket here; mount a volume.
# The directory is made here, owned by nonroot: WORKDIR would create it
# owned by root (the classic builder, kaniko and buildah do), a new volume
# takes the image directory's owner, and the bot could not create its
# store.
COPY --from=build --chown=65532:65532 /state /var/lib/gitlab-chatops
USER nonroot:nonroot
VOLUME ["/var/lib/gitlab-chatops"]
WORKDIR /var/lib/gitlab-chatops
# serve's one listener (listen:, default :8080): Slack's and Mattermost's
# endpoints, /healthz (liveness) and /readyz (readiness). A separate
# mattermost.listen, if configured, needs its own -p.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gitlab-chatops"]
# Mount the configuration (packaging/bot.example.yaml) at
# /etc/gitlab-chatops/bot.yaml and pass the secrets as environment variables
# (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, GITLAB_CHATOPS_AUDIT_KEY, ...).
# The agent runs on the GitLab node instead: --entrypoint gitlab-chatops-agent.
CMD ["serve", "--config", "/etc/gitlab-chatops/bot.yaml"]
