/* fuse-plain — the reference of the mount benchmark: a FUSE file system that shows one
 * plain file as /f and answers every READ by splicing the file's own bytes, with the
 * request size and threads of pcapfs. Whatever it reaches is as fast as a FUSE read path
 * gets on the machine, before any work of pcapfs's own.
 *
 *   fuse-plain FILE MOUNTPOINT      (foreground; unmount with fusermount3 -u)
 */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* As pcapfs: READ requests of up to 1 MiB less 5 pages, so that a spliced reply fits a
 * pipe of /proc/sys/fs/pipe-max-size. */
#define MAX_READ ((1u << 20) - 5u * 4096u)

static int file_fd;
static off_t file_size;

static void attr_of(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = file_size;
		st->st_blocks = (file_size + 511) / 512;
	}
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_read = MAX_READ;
	conn->max_write = MAX_READ;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | (conn->capable & FUSE_CAP_SPLICE_MOVE);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID || strcmp(name, "f") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {.ino = 2, .attr_timeout = 3600, .entry_timeout = 3600};
	attr_of(2, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	attr_of(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if (off >= file_size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((off_t)size > file_size - off)
		size = (size_t)(file_size - off);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = file_fd;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s FILE MOUNTPOINT\n", argv[0]);
		return 2;
	}
	file_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (file_fd < 0 || fstat(file_fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	file_size = st.st_size;
	char opt[64];
	snprintf(opt, sizeof(opt), "-oro,max_read=%u", MAX_READ);
	char *fargv[] = {argv[0], opt, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(2, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[2]) != 0)
		return 1;
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(lc, 16);
	int r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return r ? 1 : 0;
}
