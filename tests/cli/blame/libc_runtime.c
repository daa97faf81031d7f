/* libc_runtime.c - glibc services that keep data until exit: the runtime's, never the program's
 *
 * NSS (getpwnam, getaddrinfo through /etc/hosts: no network), locales,
 * iconv, time zones, a failed dlopen's error and stdio: each leaves blocks
 * that glibc keeps (and frees only in __libc_freeres, which memgate does not
 * call).  The program frees everything it owns.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <iconv.h>
#include <locale.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct addrinfo *ai = NULL;
	time_t t = 0;
	iconv_t cd;

	if (getaddrinfo("localhost", "80", NULL, &ai) == 0)
		freeaddrinfo(ai);
	if (!dlopen("libmemgate-not-there.so", RTLD_NOW))
		(void)dlerror();
	localtime(&t);
	setlocale(LC_ALL, "C.UTF-8");
	if ((cd = iconv_open("UTF-8", "ISO-8859-1")) != (iconv_t)-1)
		iconv_close(cd);
	getpwnam("root");
	printf("done\n");
	return 0;
}
