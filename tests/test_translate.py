from rag.translate import _numbers


def test_numbers_compare_across_thousands_separators():
    assert _numbers("1 300 kilomètres") == _numbers("1,300 kilometres") == ["1300"]
    assert _numbers("12\u00a0000 hommes") == _numbers("12,000 men")
    assert _numbers("une heure et demie, 1,5 heure") == _numbers("1.5 hours")  # decimals keep both parts
    assert _numbers("le 21 janvier 2023") != _numbers("January 21, 2024")
