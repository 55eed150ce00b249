# Builds the single opsflow binary (the builder UI is already built and embedded from builder-ui/dist).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/opsflow ./cmd/opsflow

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/opsflow /usr/local/bin/opsflow
ENV OPSFLOW_ADDR=:8080 OPSFLOW_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["opsflow"]
CMD ["serve"]
