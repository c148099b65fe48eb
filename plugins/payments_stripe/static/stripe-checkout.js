/* Card payments with Stripe.js: the payment step turns the card into an id the server
 * authorizes; the "confirm your payment" page runs 3-D Secure and returns to the shop.
 * No inline script anywhere: everything the page needs is in data- attributes. */
(function () {
  "use strict";

  async function paymentMethodId(stripe, card) {
    // Stripe.js makes a PaymentMethod; localstripe's stand-in (demo, tests) has no
    // createPaymentMethod, and the card of a token serves there instead.
    if (typeof stripe.createPaymentMethod === "function") {
      var made = await stripe.createPaymentMethod({ type: "card", card: card });
      if (made && made.paymentMethod) return { id: made.paymentMethod.id };
      if (made && made.error) return { error: made.error.message };
    }
    var token = await stripe.createToken(card);
    if (token.error) {
      return { error: token.error.message || "Please check your card details." };
    }
    return { id: token.token.card.id };
  }

  function setUpCardForm() {
    var form = document.getElementById("payment-form");
    var box = document.querySelector(".stripe-card");
    if (!form || !box || !window.Stripe) return;
    var stripe = window.Stripe(box.dataset.stripeKey);
    var card = stripe.elements().create("card");
    card.mount("#stripe-card-element");
    var errors = document.getElementById("stripe-card-errors");
    var field = document.getElementById("stripe-payment-method");
    var button = document.getElementById("pay-button");
    form.addEventListener("submit", async function (event) {
      var chosen = form.querySelector('input[name="method"]:checked');
      if (!chosen || chosen.value !== box.dataset.method || field.value) return;
      event.preventDefault();
      if (button) button.disabled = true;
      errors.textContent = "";
      var found = await paymentMethodId(stripe, card);
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
