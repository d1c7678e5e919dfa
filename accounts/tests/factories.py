"""Customer companies with data that passes the model's own validation (real RFC check digits)."""

import string

import factory
from factory.django import DjangoModelFactory
from factory.random import randgen
from stdnum.mx import rfc as mx_rfc

from accounts.models import Account, Industry, Relationship, Size, Status
from crm.core.tests.factories import UserFactory

# The homoclave's two characters, as SAT assigns them (and python-stdnum checks them).
_HOMOCLAVE_FIRST = "123456789ABCDEFGHIJKLMNOPQRSTUV"
_HOMOCLAVE_SECOND = "123456789" + string.ascii_uppercase


def mexican_rfc(*, person: bool = False) -> str:
    """A valid RFC: 3 letters for a company (4 for a person), a date, homoclave, check digit."""
    while True:
        letters = "".join(randgen.choice(string.ascii_uppercase) for _ in range(4 if person else 3))
        if letters not in mx_rfc._name_blacklist:
            break
    date = f"{randgen.randint(60, 99):02d}{randgen.randint(1, 12):02d}{randgen.randint(1, 28):02d}"
    homoclave = randgen.choice(_HOMOCLAVE_FIRST) + randgen.choice(_HOMOCLAVE_SECOND)
    body = f"{letters}{date}{homoclave}"
    return body + mx_rfc.calc_check_digit(body)


class AccountFactory(DjangoModelFactory):
    """A Mexican company owned by a new sales rep; pass `owner=` to put it in a portfolio."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    name = factory.Faker("company", locale="es_MX")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} S.A. de C.V.")
    tax_id = factory.LazyFunction(mexican_rfc)
    industry = factory.Iterator(Industry.values)
    size = factory.Iterator(Size.values)
    relationship = Relationship.CUSTOMER
    status = Status.ACTIVE
    # Unique, valid Mexico City numbers far from the ones tests type by hand (+52 55 1234 5678).
    phone = factory.Sequence(lambda n: f"+5255{30000000 + n:08d}")
    email = factory.Sequence(lambda n: f"contacto{n}@empresa{n}.com.mx")
    website = factory.Sequence(lambda n: f"https://www.empresa{n}.com.mx")
    street = factory.Faker("street_address", locale="es_MX")
    city = factory.Faker("city", locale="es_MX")
    region = factory.Faker("state", locale="es_MX")
    postal_code = factory.Faker("postcode", locale="es_MX")
    country = "MX"
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)
