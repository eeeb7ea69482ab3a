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

# nginx_conf NAME ROOT PORT [ssl CERT KEY] [auth HTPASSWD]: write $T/NAME/nginx.conf
# serving ROOT on 127.0.0.1:PORT with WebDAV PUT and DELETE.
nginx_conf() {
	local name=$1 root=$2 port=$3 listen tls="" auth="" d=$T/$1; shift 3
	listen="127.0.0.1:$port"
	while [ $# -gt 0 ]; do
		case $1 in
		ssl) listen+=" ssl"; tls="ssl_certificate $2; ssl_certificate_key $3;"; shift 3 ;;
		auth) auth="auth_basic hotspare; auth_basic_user_file $2;"; shift 2 ;;
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
	access_log off;
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
