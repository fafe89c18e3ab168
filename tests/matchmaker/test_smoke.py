def test_home_in_dutch(client, text_of):
    r = client.get("/")
    assert r.status_code == 200
    print(text_of(r)[:300])
