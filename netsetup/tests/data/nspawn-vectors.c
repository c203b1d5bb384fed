/* Build: gcc -o v nspawn-vectors.c /usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so \
 *   -Wl,-rpath,/usr/lib/x86_64-linux-gnu/systemd   (Debian 12, package libsystemd-shared) */
/* Composes nspawn's shorten_ifname() and generate_mac() (systemd v252 nspawn-network.c, logic
 * restated) on top of the real siphash24() and urlsafe_base64char() exported by Debian's
 * libsystemd-shared-252.so. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
uint64_t siphash24(const void *in, size_t inlen, const uint8_t k[16]);
char urlsafe_base64char(int x);
static const uint8_t SHORTEN[16]={0xe1,0x90,0xa4,0x04,0xa8,0xef,0x4b,0x51,0x8c,0xcc,0xc3,0x3a,0x9f,0x11,0xfc,0xa2};
static const uint8_t HOST[16]={0x1a,0x37,0x6f,0xc7,0x46,0xec,0x45,0x0b,0xad,0xa3,0xd5,0x31,0x06,0x60,0x5d,0xb1};
static const uint8_t CONT[16]={0xc3,0xc4,0xf9,0x19,0xb5,0x57,0xb2,0x1c,0xe6,0xcf,0x14,0x27,0x03,0x9c,0xee,0xa2};
static const uint8_t XHOST[16]={0x48,0xc7,0xf6,0xb7,0xea,0x9d,0x4c,0x9e,0xb7,0x28,0xd4,0xde,0x91,0xd5,0xbf,0x66};
static const uint8_t XCONT[16]={0xaf,0x50,0x17,0x61,0xce,0xf9,0x4d,0x35,0x84,0x0d,0x2b,0x20,0x54,0xbe,0xce,0x59};
static const uint8_t MACV[16]={0x00,0x13,0x6d,0xbc,0x66,0x83,0x44,0x81,0xbb,0x0c,0xf9,0x51,0x1f,0x24,0xa6,0x6f};
#define IFNAMSIZ 16
static void shorten(char *ifname){
  char n[IFNAMSIZ];
  if (strlen(ifname) < IFNAMSIZ) return;
  uint64_t h = siphash24(ifname, strlen(ifname), SHORTEN);
  memcpy(n, ifname, IFNAMSIZ-5);
  n[IFNAMSIZ-5]=urlsafe_base64char(h>>18); n[IFNAMSIZ-4]=urlsafe_base64char(h>>12);
  n[IFNAMSIZ-3]=urlsafe_base64char(h>>6); n[IFNAMSIZ-2]=urlsafe_base64char(h);
  n[IFNAMSIZ-1]=0; strcpy(ifname,n);
}
static void mac(const uint8_t id[16], const char *name, const uint8_t *key, uint64_t idx, char *out){
  uint8_t v[256]; size_t l=strlen(name), sz=16+l; memcpy(v,id,16); memcpy(v+16,name,l);
  if (idx>0){ uint64_t le=idx; memcpy(v+sz,&le,8); sz+=8; }   /* x86-64: htole64 is identity */
  uint64_t r = siphash24(v, sz, key); uint8_t m[8]; memcpy(m,&r,8);
  m[0]&=0xfe; m[0]|=0x02;
  sprintf(out,"%02x:%02x:%02x:%02x:%02x:%02x",m[0],m[1],m[2],m[3],m[4],m[5]);
}
int main(int argc, char**argv){
  /* reference vector sanity: paper appendix */
  uint8_t k[16]; uint8_t msg[15]; for(int i=0;i<16;i++)k[i]=i; for(int i=0;i<15;i++)msg[i]=i;
  printf("# siphash24(00..0e, key 00..0f) = %016llx\n",(unsigned long long)siphash24(msg,15,k));
  const char *ids[]={"0123456789abcdef0123456789abcdef","3d1219c7c4c5404aa48adfda4adfdaa4"};
  const char *names[]={"foo","mycontainer","abcdefghijkl","abcdefghijklm","a-very-long-machine-name","debian-bookworm-x86-64","web-frontend-01"};
  for(int a=0;a<2;a++){ uint8_t id[16]; for(int i=0;i<16;i++){unsigned x; sscanf(ids[a]+2*i,"%2x",&x); id[i]=x;}
   for(size_t j=0;j<sizeof(names)/sizeof(*names);j++){ const char*nm=names[j];
    char ve[300], vb[300], mv[300]; snprintf(ve,300,"ve-%s",nm); snprintf(vb,300,"vb-%s",nm); snprintf(mv,300,"mv-%s",nm);
    shorten(ve); shorten(vb); shorten(mv);
    char mh[32],mc[32],xh0[32],xc0[32],xh1[32],xc1[32],m0[32],m1[32];
    mac(id,nm,HOST,0,mh); mac(id,nm,CONT,0,mc); mac(id,nm,XHOST,0,xh0); mac(id,nm,XCONT,0,xc0);
    mac(id,nm,XHOST,1,xh1); mac(id,nm,XCONT,1,xc1); mac(id,nm,MACV,0,m0); mac(id,nm,MACV,1,m1);
    printf("%s %s %s %s %s %s %s %s %s %s %s %s %s\n", ids[a], nm, ve, vb, mv, mh, mc, xh0, xc0, xh1, xc1, m0, m1);
  }}
  return 0;
}
