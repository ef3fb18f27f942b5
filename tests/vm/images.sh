# Sourced by tests/vm/run: the kernel, the initramfs and guest 2's disk,
# all made from Debian packages of the host's configured mirror, under $VM
# (target/vm): made once, reused by later runs of the same checkout.

# Debian 12's current 6.1 kernel (what linux-image-amd64 depends on), unpacked
# (in part) with dpkg-deb; busybox's depmod writes the modules.dep its
# postinst would.
# Sets KVER and VMLINUZ.
vm_kernel() {
	local pkg deb
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || fail "apt-cache knows no linux-image-amd64 (run apt-get update)"
	mkdir -p "$VM/kernel"
	deb=$(ls "$VM/kernel/${pkg}"_*.deb 2>/dev/null | head -1)
	if [ -z "$deb" ]; then
		(cd "$VM/kernel" && apt-get download -q -o APT::Sandbox::User=root -o Acquire::Retries=3 "$pkg") >&2 ||
			fail "apt-get download $pkg"
		deb=$(ls "$VM/kernel/${pkg}"_*.deb | head -1)
	fi
	KVER=${pkg#linux-image-}
	local root=$VM/kernel/root
	if [ ! -e "$root/lib/modules/$KVER/modules.dep" ]; then
		rm -rf "$root"
		mkdir -p "$root"
		# Only the kernel and the module directories the guests load from
		# (their dependencies included): 60 MB instead of 400.
		local m=./lib/modules/$KVER
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --wildcards "./boot/vmlinuz-$KVER" "$m/modules.*" \
			"$m/kernel/fs/*" "$m/kernel/drivers/virtio/*" "$m/kernel/drivers/block/*" "$m/kernel/net/9p/*" \
			"$m/kernel/crypto/*" "$m/kernel/lib/*" || fail "dpkg-deb --fsys-tarfile $deb"
		busybox depmod -b "$root" "$KVER" || fail "depmod $KVER"
	fi
	VMLINUZ=$root/boot/vmlinuz-$KVER
	MODULES=$root/lib/modules/$KVER
	note "kernel: $(basename "$deb")"
}

# The initramfs: busybox-static, tests/vm/init, and the modules both guests
# load before their root is there (with everything they depend on).
vm_initrd() {
	local dir=$VM/initrd m f
	rm -rf "$dir"
	mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/newroot" "$dir/lib/modules/$KVER"
	cp /bin/busybox "$dir/bin/busybox"
	cp "$HERE/init" "$dir/init"
	cp "$MODULES"/modules.* "$dir/lib/modules/$KVER/"
	for m in virtio_pci 9pnet_virtio 9p overlay virtio_blk crc32c_generic ext4; do
		grep -q "/$m\.ko:" "$MODULES/modules.dep" || fail "$KVER has no module $m"
		for f in $(grep "/$m\.ko:" "$MODULES/modules.dep" | tr -d :); do
			mkdir -p "$dir/lib/modules/$KVER/$(dirname "$f")"
			cp "$MODULES/$f" "$dir/lib/modules/$KVER/$f"
		done
	done
	(cd "$dir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$VM/initrd.gz" ||
		fail "cpio of the initramfs"
	INITRD=$VM/initrd.gz
}

# Guest 2's root: Debian 12 with systemd, D-Bus and logind, from mmdebstrap.
GUEST2_PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,procps
vm_rootfs() {
	local root=$VM/rootfs
	if [ "$(cat "$VM/rootfs.done" 2>/dev/null)" = "$GUEST2_PACKAGES" ]; then
		return
	fi
	rm -rf "$root" "$VM/rootfs.done"
	local sources
	sources=$(ls /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null | head -1)
	[ -n "$sources" ] || fail "no /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
	note "mmdebstrap bookworm ($GUEST2_PACKAGES) from $sources"
	mmdebstrap --quiet --variant=minbase --include="$GUEST2_PACKAGES" --aptopt='Acquire::Retries "3"' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		bookworm "$root" "$sources" >&2 || fail "mmdebstrap"
	echo "$GUEST2_PACKAGES" >"$VM/rootfs.done"
}

# Guest 2's disk: the root plus this run's binaries (release; debug for its
# test-only pause hook) and scripts, a lingering user `sbx` (uid 1000) with
# its user manager, and the lane's service that runs guest2.sh once the
# system is up, its output on the serial console.
vm_image() {
	local root=$VM/rootfs
	install -D -m 0755 "$RELEASE" "$root/usr/local/bin/sandbox"
	install -D -m 0755 "$DEBUG" "$root/usr/local/bin/sandbox-debug"
	install -D -m 0755 "$HERE/guest2.sh" "$root/usr/local/lib/vmlane/guest2.sh"
	install -D -m 0644 "$HERE/assert.sh" "$root/usr/local/lib/vmlane/assert.sh"
	echo vmlane2 >"$root/etc/hostname"
	echo "/dev/vda / ext4 rw 0 1" >"$root/etc/fstab"
	chroot "$root" id sbx >/dev/null 2>&1 || chroot "$root" useradd -m -u 1000 -s /bin/bash sbx ||
		fail "useradd sbx in the image"
	mkdir -p "$root/var/lib/systemd/linger"
	touch "$root/var/lib/systemd/linger/sbx"
	# No login prompt on the console that carries the results.
	ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
	cat >"$root/etc/systemd/system/vmlane.service" <<-'EOF'
		[Unit]
		Description=the sandbox VM lane's checks
		After=multi-user.target user@1000.service
		Wants=user@1000.service
		[Service]
		Type=oneshot
		ExecStart=/usr/local/lib/vmlane/guest2.sh
		StandardOutput=tty
		StandardError=inherit
		TTYPath=/dev/ttyS0
		[Install]
		WantedBy=multi-user.target
	EOF
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
	ln -sf ../vmlane.service "$root/etc/systemd/system/multi-user.target.wants/vmlane.service"
	rm -f "$VM/guest2.img"
	mke2fs -q -t ext4 -L vmlane2 -d "$root" "$VM/guest2.img" 1G || fail "mke2fs -d $root"
	IMAGE=$VM/guest2.img
}
