#!/bin/busybox sh
# shellcheck shell=dash
# (busybox's ash, which shellcheck checks as dash)
# PID 1 of the emulated lab guest (runs from the initramfs, with busybox only).
#
# The guest borrows the host's userspace: the host's / comes in over 9p read-only, a tmpfs
# overlay makes it writable inside the guest, and the guest chroots into it. So every tool
# installed on the host (lvm2, fsarchiver, sshd ...) is there without building a disk image.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# load order from `modprobe --show-depends`: dependencies first
while read -r module; do insmod "$module" 2>/dev/null || echo "lvmkit-init: insmod $module failed"; done </modules.load

# The host paths the guest needs (lvmkit refuses paths with whitespace, quotes or globs).
lab_dir=
checkout=
# shellcheck disable=SC2013  # the kernel's command line is one line of words: split it into words
for word in $(cat /proc/cmdline); do
    case $word in
        lvmkit.labdir=*) lab_dir=${word#lvmkit.labdir=} ;;
        lvmkit.checkout=*) checkout=${word#lvmkit.checkout=} ;;
    esac
done

mkdir -p /host /overlay /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host
mount -t tmpfs -o mode=0755 overlay /overlay
mkdir -p /overlay/upper /overlay/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/overlay/upper,workdir=/overlay/work /newroot

mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
# What udev makes on a real system, and scripts expect (/dev/stdin, /dev/fd/N).
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
for dir in run tmp root; do mount -t tmpfs -o mode=0755 "$dir" "/newroot/$dir"; done
chmod 1777 /newroot/tmp
# A clean /root: the host's .bashrc (pyenv init) cost 10 s per SSH command under emulation.
chmod 0700 /newroot/root
# The guest kernel's modules live only in this initramfs.
mkdir -p /newroot/lib/modules
mount --bind /lib/modules /newroot/lib/modules
# Room for the loop files of the lab's volume group (sparse; only written blocks use RAM).
mkdir -p "/newroot$lab_dir/loops"
mount -t tmpfs -o size=80% loops "/newroot$lab_dir/loops"
# The lab's keys and sshd_config, and the checkout of lvmkit (its provisioning script, and
# lvmkit itself for the benchmarks), straight from the host's read-only root at the same
# paths: the tmpfs mounts above would hide them when they live under /tmp, /run or /root.
for path in "$lab_dir/ssh" "$checkout"; do
    mkdir -p "/newroot$path"
    mount --bind "/host$path" "/newroot$path"
done
# The read-write channel: the host's $lab_dir/share appears at the same path in the guest.
mkdir -p "/newroot$lab_dir/share"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labshare "/newroot$lab_dir/share"

# LVM without udev (there is none in the guest): scan devices itself, create nodes itself.
mkdir -p /newroot/etc/lvm
cat >/newroot/etc/lvm/lvmlocal.conf <<'CONF'
devices { obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
CONF
rm -f /newroot/etc/lvm/devices/system.devices

ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

mkdir -p /newroot/run/sshd
chroot /newroot /usr/sbin/sshd -f "$lab_dir/ssh/sshd_config" -E "$lab_dir/share/sshd.log"
echo "lvmkit-lab: ready"

while true; do sleep 3600; done
