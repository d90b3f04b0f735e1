/*
 * log.h - kairos-csi's log: one line per event on stderr, where the
 * container runtime collects it. Never give it a secret: requests are
 * logged by method and volume id only, never as messages.
 */
#ifndef KAIROS_CSI_LOG_H
#define KAIROS_CSI_LOG_H

enum csi_log_level { CSI_LOG_ERR, CSI_LOG_WARN, CSI_LOG_INFO, CSI_LOG_DEBUG };

/* csi_log_verbose() - also log CSI_LOG_DEBUG lines (-v). */
void csi_log_verbose(int on);

/* csi_log() - "TIME LEVEL message". Thread-safe: one write(2) per line. */
void csi_log(enum csi_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
