"""Configuration options both drivers share, registered with oslo.config.

Each driver appends these to its backend's section of cinder.conf or
manila.conf (``configuration.append_config_values``), as in-tree drivers
do, so two backends can talk to two kairosd or map projects differently.
"""

from oslo_config import cfg

# The template's placeholder for the OpenStack project id.
PROJECT_ID = "{project_id}"

COMMON_OPTS = [
    cfg.URIOpt(
        "kairos_url",
        schemes=["http", "https"],
        help="kairosd's REST API, such as https://kairos.example.org:8443. "
        "Over https the certificate and name are always verified.",
    ),
    cfg.StrOpt(
        "kairos_ca_file",
        help="CA certificates that sign kairosd's certificate (PEM). "
        "Unset: the system's trust store.",
    ),
    cfg.StrOpt(
        "kairos_token_file",
        help="File holding an admin bearer token of kairosd (one line). "
        "The driver creates projects, clones between projects and reads "
        "the cluster's capacity, which project tokens may not. Keep it "
        "readable by the service only.",
    ),
    cfg.IntOpt(
        "kairos_timeout",
        default=60,
        min=1,
        help="Seconds to wait for one answer from kairosd.",
    ),
    cfg.IntOpt(
        "kairos_operation_timeout",
        default=900,
        min=1,
        help="Seconds to wait for a slow kairosd operation (a clone, a "
        "share's deletion) to finish.",
    ),
    cfg.DictOpt(
        "kairos_project_map",
        default={},
        help="OpenStack project id to Kairos project, for projects whose "
        "Kairos name is not the template's, such as "
        "'0f3c...:climate,9a1b...:genomics'.",
    ),
    cfg.StrOpt(
        "kairos_project_template",
        default="os-" + PROJECT_ID,
        help="The Kairos project of an OpenStack project that "
        "kairos_project_map does not name; " + PROJECT_ID + " is replaced "
        "by the project id. The default, os-{project_id}, is the project "
        "kairosd's Open Service Broker API gives an OpenStack project, so "
        "both share one quota. Empty: projects not in the map are refused. "
        "Without the placeholder every such project uses one Kairos project.",
    ),
    cfg.StrOpt(
        "kairos_project_plan",
        default="",
        help="A plan of kairosd's plans.ini (small, medium, ...): a Kairos "
        "project that does not exist yet is created from it on first use. "
        "Empty: the project must exist, else the request is refused.",
    ),
]


def list_opts():
    """For oslo-config-generator."""
    return [("backend", COMMON_OPTS)]
