"""The fake engine's GraphQL schema: the subset of the Dagger v0.21 API the product uses.

Every type, field, argument (name, type, default) and return type here must appear identically in the
real engine's schema; `tests/test_fake_engine_schema.py` checks that against the real schema file.
IDs are plain `ID` scalars with an `@expectedType` directive, as in the real v0.21 schema; the fake
uses that directive to check that an ID argument names an object of the right type.
"""

from __future__ import annotations

from functools import cache

from graphql import GraphQLSchema, build_schema

SDL = """
directive @expectedType(name: String!) on ARGUMENT_DEFINITION | FIELD_DEFINITION

scalar Platform
scalar Void

enum CacheSharingMode { SHARED PRIVATE LOCKED }
enum NetworkProtocol { TCP UDP }
enum ReturnType { SUCCESS FAILURE ANY }

input PortForward {
  frontend: Int
  backend: Int!
  protocol: NetworkProtocol = TCP
}

interface Node {
  id: ID!
}

interface Syncer implements Node {
  id: ID!
  sync: ID! @expectedType(name: "Syncer")
}

interface Exportable implements Node {
  id: ID!
  export(path: String!): String!
}

type Query implements Node {
  id: ID!
  version: String!
  node(id: ID!): Node
  container(platform: Platform): Container!
  directory: Directory!
  host: Host!
  cacheVolume(key: String!, source: ID @expectedType(name: "Directory"), sharing: CacheSharingMode = SHARED,
    owner: String = ""): CacheVolume!
  setSecret(name: String!, plaintext: String!): Secret!
  git(url: String!, keepGitDir: Boolean = true @deprecated(reason: "Set to true to keep .git directory."),
    sshKnownHosts: String = "", sshAuthSocket: ID @expectedType(name: "Socket"), httpAuthUsername: String = "",
    httpAuthToken: ID @expectedType(name: "Secret"), httpAuthHeader: ID @expectedType(name: "Secret"),
    experimentalServiceHost: ID @expectedType(name: "Service")): GitRepository!
}

type Container implements Node & Syncer {
  id: ID!
  sync: ID! @expectedType(name: "Container")
  stdout: String!
  stderr: String!
  exitCode: Int!
  workdir: String!
  exposedPorts: [Port!]!
  file(path: String!, expand: Boolean = false): File!
  directory(path: String!, expand: Boolean = false): Directory!
  from(address: String!, registryService: ID @expectedType(name: "Service")): Container!
  withEnvVariable(name: String!, value: String!, expand: Boolean = false): Container!
  withoutEnvVariable(name: String!): Container!
  withSecretVariable(name: String!, secret: ID! @expectedType(name: "Secret")): Container!
  withMountedDirectory(path: String!, source: ID! @expectedType(name: "Directory"), owner: String = "",
    readOnly: Boolean = false, expand: Boolean = false): Container!
  withMountedCache(path: String!, cache: ID! @expectedType(name: "CacheVolume"),
    source: ID @expectedType(name: "Directory"), sharing: CacheSharingMode = SHARED, owner: String = "",
    expand: Boolean = false): Container!
  withMountedFile(path: String!, source: ID! @expectedType(name: "File"), owner: String = "",
    expand: Boolean = false): Container!
  withMountedSecret(path: String!, source: ID! @expectedType(name: "Secret"), owner: String = "",
    mode: Int = 256, expand: Boolean = false): Container!
  withDirectory(path: String!, source: ID! @expectedType(name: "Directory"), exclude: [String!] = [],
    include: [String!] = [], gitignore: Boolean = false, owner: String = "", expand: Boolean = false,
    permissions: Int): Container!
  withFile(path: String!, source: ID! @expectedType(name: "File"), permissions: Int, owner: String = "",
    expand: Boolean = false): Container!
  withNewFile(path: String!, contents: String!, permissions: Int = 420, owner: String = "",
    expand: Boolean = false): Container!
  withWorkdir(path: String!, expand: Boolean = false): Container!
  withUser(name: String!): Container!
  withEntrypoint(args: [String!]!, keepDefaultArgs: Boolean = false): Container!
  withDefaultArgs(args: [String!]!): Container!
  withExec(args: [String!]!, useEntrypoint: Boolean = false, stdin: String = "", redirectStdin: String = "",
    redirectStdout: String = "", redirectStderr: String = "", expect: ReturnType = SUCCESS,
    experimentalPrivilegedNesting: Boolean = false, insecureRootCapabilities: Boolean = false,
    expand: Boolean = false, noInit: Boolean = false): Container!
  withExposedPort(port: Int!, protocol: NetworkProtocol = TCP, description: String,
    experimentalSkipHealthcheck: Boolean = false): Container!
  withServiceBinding(alias: String!, service: ID! @expectedType(name: "Service")): Container!
  asService(args: [String!] = [], useEntrypoint: Boolean = false, experimentalPrivilegedNesting: Boolean = false,
    insecureRootCapabilities: Boolean = false, expand: Boolean = false, noInit: Boolean = false): Service!
}

type Directory implements Exportable & Node & Syncer {
  id: ID!
  sync: ID! @expectedType(name: "Directory")
  digest: String!
  entries(path: String): [String!]!
  export(path: String!, wipe: Boolean = false): String!
  directory(path: String!): Directory!
  file(path: String!): File!
  withoutDirectory(path: String!): Directory!
  withoutFile(path: String!): Directory!
  withNewFile(path: String!, contents: String!, permissions: Int = 420): Directory!
  withFile(path: String!, source: ID! @expectedType(name: "File"), permissions: Int, owner: String = ""): Directory!
  withDirectory(path: String!, source: ID! @expectedType(name: "Directory"), exclude: [String!] = [],
    include: [String!] = [], gitignore: Boolean = false, owner: String = "", permissions: Int): Directory!
}

type File implements Exportable & Node & Syncer {
  id: ID!
  sync: ID! @expectedType(name: "File")
  name: String!
  size: Int!
  contents(offsetLines: Int, limitLines: Int): String!
  export(path: String!, allowParentDirPath: Boolean = false): String!
}

type Host implements Node {
  id: ID!
  directory(path: String!, exclude: [String!] = [], include: [String!] = [], noCache: Boolean = false,
    gitignore: Boolean = false): Directory!
  file(path: String!, noCache: Boolean = false): File!
  tunnel(service: ID! @expectedType(name: "Service"), native: Boolean = false, ports: [PortForward!] = []): Service!
}

type Service implements Node & Syncer {
  id: ID!
  sync: ID! @expectedType(name: "Service")
  start: ID! @expectedType(name: "Service")
  stop(kill: Boolean = false): ID! @expectedType(name: "Service")
  up(ports: [PortForward!] = [], random: Boolean = false): Void
  endpoint(port: Int, scheme: String = ""): String!
  hostname: String!
  ports: [Port!]!
  withHostname(hostname: String!): Service!
}

type Port implements Node {
  id: ID!
  port: Int!
  protocol: NetworkProtocol!
  description: String
  experimentalSkipHealthcheck: Boolean!
}

type CacheVolume implements Node {
  id: ID!
}

type Secret implements Node {
  id: ID!
  name: String!
}

type GitRepository implements Node {
  id: ID!
  head: GitRef!
  branch(name: String!): GitRef!
  tag(name: String!): GitRef!
  commit(id: String!): GitRef!
  ref(name: String!): GitRef!
}

type GitRef implements Node {
  id: ID!
  commit: String!
  ref: String!
  tree(discardGitDir: Boolean = false, depth: Int = 1, includeTags: Boolean = false): Directory!
}
"""


@cache
def schema() -> GraphQLSchema:
    """The schema, built once per process."""
    return build_schema(SDL)
