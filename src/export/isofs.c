/*
 * isofs.c - counted iso_init()/iso_finish() (isofs.h).
 */
#include <pthread.h>
#include <stdint.h>

#include <libisofs/libisofs.h>

#include "vigil/err.h"
#include "vigil/isofs.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int users;

int vg_isofs_get(void)
{
	int ret = 0;

	pthread_mutex_lock(&lock);
	if (users == 0 && iso_init() < 0)
		ret = -VG_EFORMAT;
	else
		users++;
	pthread_mutex_unlock(&lock);
	return ret;
}

void vg_isofs_put(void)
{
	pthread_mutex_lock(&lock);
	if (users > 0 && --users == 0)
		iso_finish();
	pthread_mutex_unlock(&lock);
}
