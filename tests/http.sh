# HTTP helpers for the end-to-end tests (source after lib.sh): a private
# nginx on 127.0.0.1 on a free port, with its own config, logs and WebDAV
# PUT/DELETE under the test's directory, stopped on exit; a test CA and
# server certificate made by openssl. Every wait is bounded.
command -v nginx >/dev/null || {
	echo "# installing nginx-light" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
	python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); s.connect(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# make_ca DIR: a test CA (DIR/ca.pem) and a certificate for 127.0.0.1 and
# localhost signed by it (DIR/server.pem, DIR/server.key); also a second,
# self-signed certificate no one trusts (DIR/rogue.pem, DIR/rogue.key).
make_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hotspare test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$d/rogue.key" -out "$d/rogue.pem" 2>/dev/null
}

# nginx_conf NAME ROOT PORT [ssl CERT KEY] [auth HTPASSWD] [log]: write $T/NAME/nginx.conf
# serving ROOT on 127.0.0.1:PORT with WebDAV PUT and DELETE (log: requests go
# to $T/NAME/access.log).
nginx_conf() {
	local name=$1 root=$2 port=$3 listen tls="" auth="" log=off d=$T/$1; shift 3
	listen="127.0.0.1:$port"
	while [ $# -gt 0 ]; do
		case $1 in
		ssl) listen+=" ssl"; tls="ssl_certificate $2; ssl_certificate_key $3;"; shift 3 ;;
		auth) auth="auth_basic hotspare; auth_basic_user_file $2;"; shift 2 ;;
		log) log=$d/access.log; shift ;;
		*) fail "nginx_conf: $1" ;;
		esac
	done
	mkdir -p "$d/tmp" "$root"
	cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 2;
daemon on;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log $log;
	log_not_found off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_requests 100000;
	sendfile on;
	server {
		listen $listen;
		$tls
		root $root;
		location / {
			$auth
			dav_methods PUT DELETE;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
			client_max_body_size 0;
		}
	}
}
EOF
}

# nginx_up NAME PORT: start the nginx configured as NAME and wait for its port.
nginx_up() {
	nginx -c "$T/$1/nginx.conf" -p "$T/$1" 2>>"$T/$1/start.log" || { cat "$T/$1/start.log" "$T/$1/error.log" >&2; fail "nginx $1 did not start"; }
	on_exit "nginx_down $1"
	wait_for 10 port_open "$2" || fail "nginx $1 does not listen on $2"
}

# nginx_down NAME: stop it (its workers too) and wait until they are gone.
nginx_down() {
	local pidf=$T/$1/nginx.pid pid
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidf"
}

# s3rver_up: s3rver from the npm registry (installed once into
# ${HS_CACHE:-/var/cache/hotspare-test}/s3rver) on a free port, with its data
# in $T/s3rver, behind proxy.py sigv4 (s3rver does not check v4 signatures;
# the proxy does, for the key S3RVER/S3RVER). Sets S3_ENDPOINT (the proxy's
# URL) and S3_LOG (the proxy's log); both stop on exit.
s3rver_up() {
	local cache=${HS_CACHE:-/var/cache/hotspare-test}/s3rver sport pport
	export DEBIAN_FRONTEND=noninteractive
	if [ ! -e "$cache/node_modules/s3rver/package.json" ]; then
		mkdir -p "$cache"
		# Tests run side by side: one installs, the others wait for it.
		(flock -w 400 9 || exit 1
		 command -v node >/dev/null || apt-get install -y -qq --no-install-recommends nodejs >/dev/null
		 command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null
		 [ -e "$cache/node_modules/s3rver/package.json" ] ||
			(cd "$cache" && timeout 300 npm install --no-audit --no-fund --silent s3rver@3.7.1 >/dev/null 2>&1)
		) 9>"$cache.lock" || fail "npm install s3rver failed"
	fi
	sport=$(free_port)
	mkdir -p "$T/s3rver"
	# s3rver's continuation tokens use DES: OpenSSL 3 has it in its legacy provider.
	node --openssl-legacy-provider "$cache/node_modules/s3rver/bin/s3rver.js" -d "$T/s3rver" -a 127.0.0.1 \
		-p "$sport" -s >"$T/s3rver.log" 2>&1 &
	on_exit "kill $!"
	pport=$(free_port)
	S3_LOG=$T/sigv4.log
	python3 "$(dirname "${BASH_SOURCE[0]}")/proxy.py" sigv4 "$pport" "$sport" S3RVER "$S3_LOG" &
	on_exit "kill $!"
	wait_for 30 port_open "$sport" || { cat "$T/s3rver.log" >&2; fail "s3rver did not start"; }
	wait_for 10 port_open "$pport" || fail "the signature-checking proxy did not start"
	S3_ENDPOINT=http://127.0.0.1:$pport
}
