from rag.text.numbers import INTEGER, number_keys, only_numbers


def test_numbers_compare_across_thousands_separators():
    assert number_keys("1 300 kilomètres") == number_keys("1,300 kilometres") == ["1300"]
    assert number_keys("12\u00a0000 hommes") == number_keys("12,000 men") == ["12000"]
    assert number_keys("1,5 heure") == number_keys("1.5 hours")
    assert number_keys("le 21 janvier 2023") == ["21", "2023"]
    assert number_keys("January 21, 2024") == ["21", "2024"]


def test_a_thousands_group_has_exactly_three_digits():
    # "12 2023" is two numbers, not "12 202" and "3"
    assert number_keys("les 12 2023") == ["12", "2023"]
    assert [m.group() for m in INTEGER.finditer("entre 12 2023 et 1 300")] == ["12", "2023", "1 300"]


def test_only_numbers():
    assert only_numbers("1 300") and only_numbers("12 %") and only_numbers("3, 4")
    assert not only_numbers("1 300 kilomètres") and not only_numbers("deux") and not only_numbers("")
