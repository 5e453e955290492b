// The hosted pages' one script: the passkey ceremonies, which only the browser's WebAuthn API
// can run. It never decides anything: each result goes back in an ordinary form post, and the
// server renders what happened. Without WebAuthn (or without script) the passkey controls stay
// hidden and every other form works as before.

(() => {
  const api = globalThis.PublicKeyCredential;
  if (!api || typeof api.parseRequestOptionsFromJSON !== 'function' || !navigator.credentials) return;

  const fail = (form, error) => {
    if (error && error.name === 'AbortError') return;
    const status = form.querySelector('.passkey-status');
    if (status) status.textContent = form.dataset.failed || '';
  };

  /** Puts the authenticator's answer into the form and posts it. */
  const post = (form, credential) => {
    form.elements.passkey_response.value = JSON.stringify(credential.toJSON());
    form.submit();
  };

  const requestOptions = async (body) => {
    const response = await fetch('/auth/passkeys/login/options', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'omit',
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`options: ${response.status}`);
    return api.parseRequestOptionsFromJSON(await response.json());
  };

  // Sign in: the button, and the browser's autofill on the username field where it offers passkeys.
  const signIn = document.getElementById('passkey-sign-in');
  if (signIn) {
    signIn.hidden = false;
    let autofill;
    signIn.addEventListener('submit', async (event) => {
      event.preventDefault();
      autofill?.abort();
      try {
        post(signIn, await navigator.credentials.get({ publicKey: await requestOptions({}) }));
      } catch (error) {
        fail(signIn, error);
      }
    });
    if (typeof api.isConditionalMediationAvailable === 'function') {
      api.isConditionalMediationAvailable().then(async (available) => {
        if (!available) return;
        autofill = new AbortController();
        try {
          const publicKey = await requestOptions({});
          post(
            signIn,
            await navigator.credentials.get({ publicKey, mediation: 'conditional', signal: autofill.signal }),
          );
        } catch (error) {
          fail(signIn, error);
        }
      });
    }
  }

  // The second step of a password sign-in, answered with a passkey.
  const secondStep = document.getElementById('passkey-mfa');
  if (secondStep) {
    secondStep.hidden = false;
    secondStep.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const publicKey = await requestOptions({ mfa_token: secondStep.elements.mfa_token.value });
        post(secondStep, await navigator.credentials.get({ publicKey }));
      } catch (error) {
        fail(secondStep, error);
      }
    });
  }

  // Adding a passkey: the creation options came with the page.
  const add = document.getElementById('passkey-add');
  if (add && typeof api.parseCreationOptionsFromJSON === 'function') {
    add.hidden = false;
    add.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const publicKey = api.parseCreationOptionsFromJSON(JSON.parse(add.dataset.options));
        post(add, await navigator.credentials.create({ publicKey }));
      } catch (error) {
        fail(add, error);
      }
    });
  }
})();
