/**
 * The account page's passkeys: the list with rename and remove forms, and the page that adds
 * one (its creation options ride in the page; the script runs the ceremony and posts the
 * authenticator's answer back with the session's CSRF token).
 */
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { FastifyReply } from 'fastify';
import type { PasskeyRecord } from '../../store/types.js';
import { field, hidden } from './forms.js';
import { type Html, html } from './html.js';
import type { PageKit, PageSession } from './page-kit.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function passkeySection(kit: PageKit, s: PageSession, passkeys: readonly PasskeyRecord[]): Html {
  const { strings } = kit;
  const csrf = hidden('csrf_token', s.csrfToken);
  const rows = passkeys.map(
    (
      p,
    ) => html`<tr><td>${p.name}</td><td>${day(p.createdAt)}</td><td>${p.lastUsedAt === null ? strings.never : day(p.lastUsedAt)}</td><td>${p.backedUp ? strings.yes : strings.no}</td><td>
<form method="post" action="/account/passkeys/rename" class="inline">${csrf}${hidden('passkey_id', p.id)}<label class="visually-hidden" for="rename-${p.id}">${strings.renameLabel(p.name)}</label><input id="rename-${p.id}" name="name" value="${p.name}" maxlength="64" required class="short"><button type="submit" class="secondary">${strings.rename}</button></form>
<form method="post" action="/account/passkeys/remove" class="inline">${csrf}${hidden('passkey_id', p.id)}<button type="submit" class="secondary" aria-label="${strings.removePasskeyLabel(p.name)}">${strings.remove}</button></form></td></tr>`,
  );
  return html`<section aria-labelledby="passkeys"><h2 id="passkeys">${strings.passkeys}</h2><p class="hint">${strings.passkeysIntro}</p>${
    passkeys.length === 0
      ? html`<p>${strings.passkeysNone}</p>`
      : html`<table id="passkey-list"><thead><tr><th scope="col">${strings.passkeyName}</th><th scope="col">${strings.passkeyCreated}</th><th scope="col">${strings.passkeyLastUsed}</th><th scope="col">${strings.passkeySynced}</th><th scope="col"><span class="visually-hidden">${strings.rename}</span></th></tr></thead><tbody>${rows}</tbody></table>`
  }<form method="post" action="/account/passkeys/add" class="inline">${csrf}<button type="submit">${strings.addPasskey}</button></form></section>`;
}

export function addPasskeyPage(
  kit: PageKit,
  reply: FastifyReply,
  s: PageSession,
  options: PublicKeyCredentialCreationOptionsJSON,
): FastifyReply {
  const { strings } = kit;
  return kit.render(reply, {
    status: 200,
    title: strings.addPasskeyTitle,
    signedIn: kit.header(s),
    script: true,
    body: html`<noscript><p class="error">${strings.passkeyNeedsScript}</p></noscript>
<form method="post" action="/account/passkeys/register" id="passkey-add" hidden novalidate data-options="${JSON.stringify(options)}" data-failed="${strings.passkeyFailed}">
${hidden('csrf_token', s.csrfToken)}<input type="hidden" name="passkey_response" value="">
<p>${strings.addPasskeyPrompt}</p>
${field({ name: 'name', label: strings.passkeyName, autocomplete: 'off', maxLength: 64 }, strings, undefined)}
<button type="submit">${strings.createPasskey}</button><p class="passkey-status error" aria-live="polite"></p></form>
<p><a href="/account">${strings.goToAccount}</a></p>`,
  });
}
