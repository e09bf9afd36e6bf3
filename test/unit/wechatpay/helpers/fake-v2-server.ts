/**
 * A tiny stand-in for WeChat Pay's v2 API over mutual TLS, started inside a test: it requires a client certificate
 * from the test CA, checks the request sign, and replies with the fields the test gives, signed as asked.
 */
import { createServer, Server } from 'node:https';
import { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { signV2, V2SignType, verifyV2Sign } from '../../../../src/wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../../../../src/wechatpay/v2/xml';
import { testKeys } from './wechat-keys';

export const V2_API_KEY = '192006250b4c09247ec02edce69f6a2d';

export interface V2Recorded {
  path: string;
  fields: Record<string, string>;
  signValid: boolean;
  clientCertCN?: string;
}

export interface V2Reply {
  status?: number;
  /** Business fields; return_code SUCCESS is added unless given. */
  fields?: Record<string, string | number | undefined>;
  raw?: string;
  /** 'request' (default): sign with the request's algorithm; 'none': no sign; 'wrong': a bad sign. */
  sign?: 'request' | 'none' | 'wrong';
  destroy?: boolean;
}

export interface FakeV2 {
  url: string;
  requests: V2Recorded[];
  close(): Promise<void>;
}

export async function startFakeV2(handler: (req: V2Recorded) => V2Reply): Promise<FakeV2> {
  const k = testKeys();
  const requests: V2Recorded[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    {
      key: k.tlsServer.privateKeyPem,
      cert: k.tlsServer.certPem,
      ca: [k.ca.certPem],
      requestCert: true,
      rejectUnauthorized: true,
    },
    async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let fields: Record<string, string>;
      try {
        fields = parseV2Xml(Buffer.concat(chunks));
      } catch {
        fields = {};
      }
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const recorded: V2Recorded = {
        path: req.url ?? '',
        fields,
        signValid: verifyV2Sign(fields, V2_API_KEY),
        clientCertCN: [peer?.subject?.CN].flat()[0],
      };
      requests.push(recorded);
      const reply = handler(recorded);
      if (reply.destroy) {
        req.socket.destroy();
        return;
      }
      let body = reply.raw;
      if (body === undefined) {
        const out: Record<string, string | number | undefined> = { return_code: 'SUCCESS', ...reply.fields };
        const type = (fields.sign_type || 'MD5') as V2SignType;
        if (out.return_code === 'SUCCESS' && reply.sign !== 'none') {
          out.sign = reply.sign === 'wrong' ? 'A'.repeat(32) : signV2(out, V2_API_KEY, type);
        }
        body = buildV2Xml(out);
      }
      res.writeHead(reply.status ?? 200, { 'content-type': 'text/xml' });
      res.end(body);
    },
  );
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
