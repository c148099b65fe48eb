/* Card payments with Stripe.js: the payment step turns the card into an id the server
 * authorizes; the "confirm your payment" page runs 3-D Secure and returns to the shop.
 * No inline script anywhere: everything the page needs is in data- attributes. */
(function () {
  "use strict";

  async function paymentMethodId(stripe, card, standIn) {
    // Stripe.js makes a PaymentMethod; localstripe's stand-in (demo, tests) has no
    // createPaymentMethod, and the card of a token serves there instead.
    if (typeof stripe.createPaymentMethod === "function") {
      var made = await stripe.createPaymentMethod({ type: "card", card: card });
      if (made && made.paymentMethod) return { id: made.paymentMethod.id };
      if (made && made.error) return { error: made.error.message };
    }
    if (standIn) standIn.normalise();
    var token = await stripe.createToken(card);
    if (token.error) {
      // The stand-in says only "Bad request"; Stripe's own messages say what is wrong.
      var message = standIn ? "" : token.error.message;
      return { error: message || "Please check the card number, expiry date and CVC." };
    }
    return { id: token.token.card.id };
  }

  // localstripe's stand-in Card Element is five bare inputs, each named by a placeholder
  // wider than its box ("exp_month" in two letters), that jump to the next input after
  // 16 characters of the number and 2 of the year, and send what was typed as it is:
  // "4242 4242 4242 4242" and a year typed as 2030 were refused. Stripe's own element
  // lives in a frame and formats what is typed itself; this touches only the stand-in.
  var STAND_IN_FIELDS = {
    number: { label: "Card number", placeholder: "Card number", size: 20 },
    exp_month: { label: "Expiry month", placeholder: "MM", size: 3 },
    exp_year: { label: "Expiry year", placeholder: "YYYY", size: 5 },
    cvc: { label: "CVC", placeholder: "CVC", size: 4 },
    postal_code: { label: "Postcode", placeholder: "Postcode", size: 9 },
  };

  function adaptStandIn(mount) {
    var inputs = {};
    mount.querySelectorAll("input").forEach(function (input) {
      if (STAND_IN_FIELDS[input.placeholder]) inputs[input.placeholder] = input;
    });
    var names = Object.keys(STAND_IN_FIELDS);
    if (!names.every(function (name) { return inputs[name]; })) return null;
    // The stand-in reads every input into the element's value, then moves the focus
    // on; keep the reading, drop the jumps, which split a spaced number or a 2030.
    var read = inputs.number.oninput;
    names.forEach(function (name) {
      var input = inputs[name];
      var field = STAND_IN_FIELDS[name];
      input.placeholder = field.placeholder;
      input.setAttribute("aria-label", field.label);
      input.size = field.size;
      input.oninput = function () { read({ target: null }); };
    });
    return {
      normalise: function () {
        // Digits only: people type cards and dates with spaces and slashes.
        ["number", "exp_month", "exp_year", "cvc"].forEach(function (name) {
          inputs[name].value = inputs[name].value.replace(/\D/g, "");
        });
        // The stand-in puts "20" before the year: 2030 becomes 30.
        var year = inputs.exp_year.value;
        if (year.length === 4) inputs.exp_year.value = year.slice(2);
        read({ target: null });
      },
    };
  }

  function setUpCardForm() {
    var form = document.getElementById("payment-form");
    var box = document.querySelector(".stripe-card");
    if (!form || !box || !window.Stripe) return;
    var stripe = window.Stripe(box.dataset.stripeKey);
    var card = stripe.elements().create("card");
    var mount = document.getElementById("stripe-card-element");
    card.mount(mount);
    var standIn = adaptStandIn(mount);
    var errors = document.getElementById("stripe-card-errors");
    var field = document.getElementById("stripe-payment-method");
    var button = document.getElementById("pay-button");
    form.addEventListener("submit", async function (event) {
      var chosen = form.querySelector('input[name="method"]:checked');
      if (!chosen || chosen.value !== box.dataset.method || field.value) return;
      event.preventDefault();
      if (button) button.disabled = true;
      errors.textContent = "";
      var found = await paymentMethodId(stripe, card, standIn);
      if (found.error) {
        errors.textContent = found.error;
        if (button) button.disabled = false;
        return;
      }
      field.value = found.id;
      form.submit();
    });
  }

  function setUpAction() {
    var box = document.querySelector(".stripe-action");
    if (!box || !window.Stripe) return;
    var stripe = window.Stripe(box.dataset.stripeKey);
    var status = document.getElementById("stripe-action-status");
    var button = document.getElementById("stripe-action-button");
    async function confirm() {
      button.disabled = true;
      status.textContent = "Waiting for your bank's confirmation…";
      await stripe.confirmCardPayment(box.dataset.clientSecret);
      // Success or not, the shop asks Stripe itself what happened.
      window.location.assign(box.dataset.returnUrl);
    }
    button.addEventListener("click", confirm);
    confirm();
  }

  setUpCardForm();
  setUpAction();
})();
