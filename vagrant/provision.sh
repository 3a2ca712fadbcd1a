#!/usr/bin/env bash
# Builds lvmkit's lab: a loop-backed volume group with volumes that hold sample data.
#
# The very script that the Vagrantfile runs, that `lvmkit lab up` runs inside the emulated
# lab guest, and that it runs on a host whose kernel has device-mapper: all three labs are
# the same volume group.
#
#   provision.sh            build the lab (does nothing if the volume group exists)
#   provision.sh --attach   re-attach the loop files and mount the volumes (at boot)
#   provision.sh --destroy  unmount, remove the volume group, detach and delete the loop files
set -euo pipefail

vg=${LVMKIT_LAB_VG:-labvg}
loop_dir=${LVMKIT_LOOP_DIR:-/var/lib/lvmkit-lab/loops}
mount_dir=${LVMKIT_LAB_MOUNTS:-/srv/lvmkit-lab}
pv_mib=${LVMKIT_LAB_PV_MIB:-3072}
pv_file="$loop_dir/$vg-pv0.img"

# name:size:filesystem; thinvol is a thin volume in the thin pool "pool"
volumes=(ext4vol:256M:ext4 xfsvol:384M:xfs)
pool_size=512M
thin_size=512M

die() { echo "provision.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (it creates loop devices and volume groups)"
for tool in losetup pvcreate vgcreate lvcreate mkfs.ext4 mkfs.xfs mount truncate; do
    command -v "$tool" >/dev/null || die "missing $tool: apt-get install lvm2 xfsprogs e2fsprogs mount (or dnf install lvm2 xfsprogs e2fsprogs util-linux)"
done

loop_of() {  # the loop device backed by $pv_file, if attached
    losetup --noheadings --output NAME --associated "$pv_file" 2>/dev/null | head -n1
}

attach() {
    [[ -f $pv_file ]] || die "$pv_file is missing: run provision.sh without --attach first"
    [[ -n $(loop_of) ]] || losetup --find "$pv_file"
    vgscan --mknodes >/dev/null 2>&1 || true  # find the PV on the new loop device
    vgchange --activate y "$vg" >/dev/null
    mount_all
}

mount_all() {
    local spec name
    for spec in "${volumes[@]}" thinvol:-:ext4; do
        name=${spec%%:*}
        mkdir -p "$mount_dir/$name"
        mountpoint -q "$mount_dir/$name" || mount "/dev/$vg/$name" "$mount_dir/$name"
    done
}

sample_data() {  # thousands of small files, a few larger ones, and the odd cases a backup must keep
    local dir=$1
    cp -a /usr/share/zoneinfo "$dir/zoneinfo"
    cp -a /usr/share/i18n "$dir/i18n" 2>/dev/null || true
    head -c 8M /dev/urandom >"$dir/random-8M.bin"
    head -c 2M /dev/zero >"$dir/zeros-2M.bin"
    mkdir -p "$dir/odd"
    : >"$dir/odd/empty"
    printf 'spaces and ünïcode\n' >"$dir/odd/name with spaces ünïcode.txt"
    ln -s ../random-8M.bin "$dir/odd/symlink-to-random"
    ln "$dir/zeros-2M.bin" "$dir/odd/hardlink-to-zeros"
    printf 'secret\n' >"$dir/odd/mode-0600"
    chmod 0600 "$dir/odd/mode-0600"
    chown 1234:5678 "$dir/odd/empty"
}

build() {
    if vgs "$vg" >/dev/null 2>&1; then
        echo "volume group $vg exists already: nothing to build"
        mount_all
        return
    fi
    mkdir -p "$loop_dir"
    trap 'echo "provision.sh: building failed; removing what was built" >&2; destroy' ERR
    truncate --size "${pv_mib}M" "$pv_file"  # sparse: uses only what is written
    losetup --find "$pv_file"
    local loop spec name size fs
    loop=$(loop_of)
    pvcreate --quiet "$loop"
    vgcreate --quiet "$vg" "$loop"
    for spec in "${volumes[@]}"; do
        IFS=: read -r name size fs <<<"$spec"
        lvcreate --quiet --yes --size "$size" --name "$name" "$vg"
        "mkfs.$fs" -q "/dev/$vg/$name"
    done
    lvcreate --quiet --yes --size "$pool_size" --thinpool pool "$vg"
    lvcreate --quiet --yes --virtualsize "$thin_size" --thin --name thinvol "$vg/pool"
    mkfs.ext4 -q "/dev/$vg/thinvol"
    mount_all
    for spec in "${volumes[@]}" thinvol:-:ext4; do
        sample_data "$mount_dir/${spec%%:*}"
    done
    sync
    trap - ERR
    install_boot_unit
    echo "built volume group $vg on $loop ($pv_file)"
}

install_boot_unit() {  # loop devices do not survive a reboot: re-attach them at boot
    [[ -d /run/systemd/system ]] || return 0
    # Vagrant runs a copy of this script from /tmp: install that copy for the unit to call.
    install -m 0755 "$0" /usr/local/sbin/lvmkit-lab-provision
    cat >/etc/systemd/system/lvmkit-lab-loops.service <<UNIT
[Unit]
Description=Re-attach the loop devices of lvmkit's lab volume group and mount its volumes
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=LVMKIT_LAB_VG=$vg LVMKIT_LOOP_DIR=$loop_dir LVMKIT_LAB_MOUNTS=$mount_dir
ExecStart=/usr/local/sbin/lvmkit-lab-provision --attach

[Install]
WantedBy=multi-user.target
UNIT
    systemctl daemon-reload
    systemctl enable lvmkit-lab-loops.service
}

destroy() {
    local spec
    for spec in "${volumes[@]}" thinvol:-:ext4; do
        umount "$mount_dir/${spec%%:*}" 2>/dev/null || true
    done
    if vgs "$vg" >/dev/null 2>&1; then
        vgremove --yes --force "$vg" >/dev/null
    fi
    local loop
    loop=$(loop_of)
    [[ -z $loop ]] || losetup --detach "$loop"
    rm -f "$pv_file"
}

case ${1:-} in
    "") build ;;
    --attach) attach ;;
    --destroy) destroy ;;
    *) die "unknown argument ${1}: use no argument, --attach or --destroy" ;;
esac
