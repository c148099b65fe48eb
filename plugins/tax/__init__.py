"""Tax: rates by country, region and tax class, applied by destination.

The rules of ``mercato_tax_lines`` (docs/tax.md says the same, with examples):

* No destination, no tax (``None``); a destination country without a single row in
  the rates table gets no tax lines at all (``[]``): add a row, a 0 rate if need be,
  to make a country a known destination.
* A line's rate: its tax class's, else the country's ``standard`` rate; the class
  ``zero`` and a 0 rate give no line. A region (ISO 3166-2, ``NY``) with rows of its
  own is taxed by them alone, any other region by the country's rows (region ``""``).
* Discounts (the negative adjustments) are spread over the lines pro rata to their
  totals, by largest remainder, and each line is taxed on its discounted amount. A
  positive adjustment (a fee) is not taxed. The chosen shipping is taxed as a line of
  the ``standard`` class, its price read like the goods' prices (with or without tax,
  ``mercato.tax.prices_include_tax``).
* Every tax line is rounded half up to the minor unit on its own
  (``Money.tax_included`` / ``Money.tax_added``); the total adds those integers.
* EU consumer (destination in the EU, no VAT number of another member state) and any
  sale inside the home country: the destination's rate. Prices with tax: the tax is
  inside the price (``included=True``, shown only), so the gross price is the same in
  every EU country and the shop's net varies with the rate. Prices without tax: the
  tax is added (``included=False``).
* B2B reverse charge (destination in the EU, and a VAT number whose format is that of
  a member state other than ``mercato.tax.home_country``; Greece's prefix is ``EL``):
  the business pays the net price. Prices with tax: a negative added line takes out
  the home country's VAT (``"VAT 19% reverse charge (FR…)"``). Prices without tax: a
  0 line per target names the reverse charge.
* Export (destination outside the EU and not the home country): prices with tax lose
  the home country's VAT (a negative line, ``"VAT 19% removed (export)"``); the
  destination's own tax (a US state's sales tax) is added on the net price. A state
  without a rate adds nothing.

So a business and an export customer always pay the same net price: the entered price
less the home country's VAT.
"""

from .sample import add_sample_rates

__all__ = ["add_sample_rates"]
