"""Who a customer is: Wati's identity of them (phone number, BSUID, username, contact id)."""
