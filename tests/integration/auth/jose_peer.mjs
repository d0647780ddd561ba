// The `jose` package (npm, tests/peers) on the other side of
// test_auth_jose.c: one JSON request a line on stdin, one JSON answer a line
// on stdout. Usage: node jose_peer.mjs PATH/TO/jose/dist/webapi/index.js
//
// Requests ({"op":...}):
//   verify          {token, jwk, alg, algorithms?, issuer?, audience?}
//                   jose.jwtVerify -> {ok, payload, header}
//   compact_verify  {jws, jwk, alg} jose.compactVerify -> {ok, payload (text)}
//   generate        {} an Ed25519 key pair -> {ok, jwk (private, with x)}
//   sign            {jwk, alg, header, claims} jose.SignJWT -> {ok, token}
//   compact_sign    {jwk, alg, header, payload (text)} jose.CompactSign -> {ok, jws}
//   unsecured       {claims} jose.UnsecuredJWT ("alg":"none") -> {ok, token}
// A failure: {ok:false, code: jose's error code, message}.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const jose = await import(pathToFileURL(process.argv[2]).href);

async function handle(req) {
	switch (req.op) {
	case 'verify': {
		const key = await jose.importJWK(req.jwk, req.alg);
		const options = { algorithms: req.algorithms ?? [req.alg] };
		if (req.issuer) options.issuer = req.issuer;
		if (req.audience) options.audience = req.audience;
		const { payload, protectedHeader } = await jose.jwtVerify(req.token, key, options);
		return { ok: true, payload, header: protectedHeader };
	}
	case 'compact_verify': {
		const key = await jose.importJWK(req.jwk, req.alg);
		const { payload } = await jose.compactVerify(req.jws, key, { algorithms: [req.alg] });
		return { ok: true, payload: new TextDecoder().decode(payload) };
	}
	case 'generate': {
		const { privateKey } = await jose.generateKeyPair('EdDSA',
			{ crv: 'Ed25519', extractable: true });
		return { ok: true, jwk: await jose.exportJWK(privateKey) };
	}
	case 'sign': {
		const key = await jose.importJWK(req.jwk, req.alg);
		const token = await new jose.SignJWT(req.claims).setProtectedHeader(req.header)
			.sign(key);
		return { ok: true, token };
	}
	case 'compact_sign': {
		const key = await jose.importJWK(req.jwk, req.alg);
		const jws = await new jose.CompactSign(new TextEncoder().encode(req.payload))
			.setProtectedHeader(req.header).sign(key);
		return { ok: true, jws };
	}
	case 'unsecured':
		return { ok: true, token: new jose.UnsecuredJWT(req.claims).encode() };
	default:
		return { ok: false, code: 'BAD_OP', message: `unknown op ${req.op}` };
	}
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
	let answer;
	try {
		answer = await handle(JSON.parse(line));
	} catch (e) {
		answer = { ok: false, code: e.code ?? e.name, message: String(e.message) };
	}
	process.stdout.write(JSON.stringify(answer) + '\n');
}
