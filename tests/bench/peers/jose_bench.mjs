// The jose side of tests/bench/bench_auth.c: one JSON request a line on
// stdin, one JSON answer a line on stdout.
// Usage: node jose_bench.mjs PATH/TO/jose/dist/webapi/index.js
//
// Request {"token","jwk","alg","issuer","audience","n","warmup"}: the key
// imported once (jose.importJWK), `warmup` untimed jwtVerify calls, then n
// timed ones, one at a time (await each), each with the algorithm, issuer
// and audience checks and its payload's "sub" looked at. Answer:
// {"n","ok","wall_s","cpu_s"} (cpu: process.cpuUsage, user + system), or
// {"error"} when a verification failed.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const jose = await import(pathToFileURL(process.argv[2]).href);

async function run(req) {
	const key = await jose.importJWK(req.jwk, req.alg);
	const options = { algorithms: [req.alg], issuer: req.issuer, audience: req.audience };
	let ok = 0;
	for (let i = 0; i < req.warmup; i++) {
		const { payload } = await jose.jwtVerify(req.token, key, options);
		if (payload.sub !== 'alice') throw new Error('wrong sub');
	}
	const cpu0 = process.cpuUsage();
	const t0 = process.hrtime.bigint();
	for (let i = 0; i < req.n; i++) {
		const { payload } = await jose.jwtVerify(req.token, key, options);
		if (payload.sub === 'alice') ok++;
	}
	const wall = Number(process.hrtime.bigint() - t0) / 1e9;
	const cpu = process.cpuUsage(cpu0);
	return { n: req.n, ok, wall_s: wall, cpu_s: (cpu.user + cpu.system) / 1e6 };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
	let answer;
	try {
		answer = await run(JSON.parse(line));
	} catch (e) {
		answer = { error: `${e.code ?? e.name}: ${e.message}` };
	}
	process.stdout.write(JSON.stringify(answer) + '\n');
}
