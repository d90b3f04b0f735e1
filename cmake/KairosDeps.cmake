# Finds every library Kairos builds against and names the Debian package of
# any that is missing. librados, librbd and libcephfs ship no pkg-config
# file, so they are found by header and library; the rest by pkg-config.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

set(KAIROS_MISSING "")

# kairos_find_ceph_lib(<target> <header> <library> <debian-package>)
function(kairos_find_ceph_lib target header library package)
  find_path(${target}_INCLUDE_DIR ${header})
  find_library(${target}_LIBRARY ${library})
  if(NOT ${target}_INCLUDE_DIR OR NOT ${target}_LIBRARY)
    set(KAIROS_MISSING "${KAIROS_MISSING}\n  ${library} (${header}): apt-get install ${package}"
        PARENT_SCOPE)
    return()
  endif()
  add_library(${target} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${${target}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${target}_INCLUDE_DIR}")
endfunction()

# kairos_find_pkg(<target> <pkg-config-module> <debian-package>)
function(kairos_find_pkg target module package)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${target}_FOUND)
    set(KAIROS_MISSING "${KAIROS_MISSING}\n  ${module}: apt-get install ${package}" PARENT_SCOPE)
    return()
  endif()
  add_library(${target} ALIAS PkgConfig::${target})
endfunction()

kairos_find_ceph_lib(kairos_dep_rados rados/librados.h rados librados-dev)
kairos_find_ceph_lib(kairos_dep_rbd rbd/librbd.h rbd librbd-dev)
kairos_find_ceph_lib(kairos_dep_cephfs cephfs/libcephfs.h cephfs libcephfs-dev)
kairos_find_pkg(kairos_dep_fuse3 fuse3 libfuse3-dev)
kairos_find_pkg(kairos_dep_jansson jansson libjansson-dev)
kairos_find_pkg(kairos_dep_curl "libcurl>=7.85" libcurl4-openssl-dev)
kairos_find_pkg(kairos_dep_crypto libcrypto libssl-dev)
kairos_find_pkg(kairos_dep_mhd libmicrohttpd libmicrohttpd-dev)
# kairosd hands libmicrohttpd its certificate through a gnutls callback, so
# that SIGHUP can replace it while connections stay open.
kairos_find_pkg(kairos_dep_gnutls gnutls libgnutls28-dev)
kairos_find_pkg(kairos_dep_inih inih libinih-dev)
# kairosctl's -f yaml.
kairos_find_pkg(kairos_dep_yaml yaml-0.1 libyaml-dev)
# kairosd's sd_notify (READY, STOPPING, WATCHDOG) under systemd; kairosfs's
# file descriptor store, readiness and journal.
kairos_find_pkg(kairos_dep_systemd libsystemd libsystemd-dev)
# kairos-csi: gRPC's C core (Unix socket only: no TLS library) and protobuf-c.
kairos_find_pkg(kairos_dep_grpc grpc_unsecure libgrpc-dev)
kairos_find_pkg(kairos_dep_protobuf_c libprotobuf-c libprotobuf-c-dev)
find_program(KAIROS_PROTOC_C protoc-c)
find_path(KAIROS_PROTO_INCLUDE google/protobuf/wrappers.proto)
if(NOT KAIROS_PROTOC_C)
  set(KAIROS_MISSING "${KAIROS_MISSING}\n  protoc-c: apt-get install protobuf-c-compiler")
endif()
if(NOT KAIROS_PROTO_INCLUDE)
  set(KAIROS_MISSING "${KAIROS_MISSING}\n  google/protobuf/wrappers.proto: apt-get install libprotobuf-dev")
endif()
if(KAIROS_BUILD_TESTS)
  kairos_find_pkg(kairos_dep_cmocka cmocka libcmocka-dev)
endif()

if(KAIROS_MISSING)
  message(FATAL_ERROR "Kairos: missing libraries:${KAIROS_MISSING}\n"
                      "scripts/install-deps installs all of them.")
endif()

# libcephfs's API uses off_t and struct stat: it must see 64-bit offsets.
set_property(TARGET kairos_dep_cephfs APPEND PROPERTY
  INTERFACE_COMPILE_DEFINITIONS _FILE_OFFSET_BITS=64)
